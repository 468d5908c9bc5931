"""The PBX edge of call tracking: AMI frames parsed into typed events, the listener following a
PBX, and recorded captures served back as an AMI server."""
