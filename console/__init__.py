"""`sada console`: the social-media manager's web app (inbox, work on a mention, incidents)."""
