"""The fixture course under fixtures/ has its own tests (run only by the harness under test)."""

collect_ignore = ["fixtures"]
