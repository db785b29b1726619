"""Notifications: e-mail to partners and admins over SMTP, with signed one-tap offer links."""
