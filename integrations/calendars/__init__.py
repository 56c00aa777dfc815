"""Calendar providers behind one interface (`base.CalendarProvider`): Google Workspace, Microsoft 365."""
