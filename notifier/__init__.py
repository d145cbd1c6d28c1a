"""Delivery side: notification content, channels (email, webhook), signing, digests,
the delivery log and retry policy, download links."""
