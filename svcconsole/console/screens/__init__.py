"""The admin console's screens: the service list, detail, edit, wizard, jobs, health, drift, bulk runs and the action dialogs."""
