"""One Socket.IO namespace class each: authenticate, join rooms, validate, hand over."""
