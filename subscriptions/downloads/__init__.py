"""What a notification links to: batch downloads of a run (a streamed ZIP), exports of
a scene's results (CSV, XLSX, JSON) and the scene's Atom feed, with their web routes."""
