"""vispy views: each owns one visual, listens to the document, and never writes it."""
