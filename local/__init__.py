"""The local stack: the service on one machine, no AWS account, no docker."""
