"""User side: accounts, scenes, schedules, runs, members, the pure diff, web views and the REST API."""
