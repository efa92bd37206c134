"""Helpers the tests share: served instances, servers, fake vendors, speech and people."""
