"""The personal-data register: households' names, ID numbers and phones, sealed to the
committee off chain. Only the CLI uses it; the node and the chain never see its contents.
"""
