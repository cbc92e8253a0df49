"""Who someone is: staff accounts and teams, citizens and their personal links, web sessions, login with a password and a second factor, personal API keys."""
