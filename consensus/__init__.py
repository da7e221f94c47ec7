"""PBFT consensus as a sans-IO state machine: messages and ticks in, messages, timers and
decisions out."""
