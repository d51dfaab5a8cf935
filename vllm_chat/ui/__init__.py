"""The Textual front end: turns engine events into widgets and keys into core calls."""
