"""Messages that go out: the durable outbox, the sender, what the messages say, and the e-mail and SMS channels."""
