"""WebRTC signalling for video sessions: rooms, participants, the wire protocol and fan-out.

Knows rooms and participants but not bookings: who may join a room is passed in as a function.
Never imports ``vbostotte``.
"""
