"""The AMI server side of the simulated PBX."""
