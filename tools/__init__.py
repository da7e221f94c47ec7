"""Tools that are not the running node: the bench, the consensus simulator, the demo seeding.

The CLI imports them; node/ never does.
"""
