"""The admin console's screens: the service list, detail, edit, wizard, jobs, health, bulk runs, dialogs and help."""
