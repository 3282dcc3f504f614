"""Qt widgets: the main window, panels, tool bar, status bar and dialogs."""
