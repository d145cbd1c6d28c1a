"""User side: accounts, scenes, schedules, runs, members, the pure diff, the web views
and what notifications link to (downloads, exports, the feed)."""
