"""Video calls, the application's side: which appointment's call a person may join and for how long, join tickets, guest links, the connection test. Signalling itself is the ``signaling`` package."""
