"""Development-only tools: local Functions runner, Partner Center sandbox, SMTP mailbox, stack launcher.

Kept out of the deployment package by .funcignore.
"""
