"""Local stand-ins for outside services that cannot be installed here, each speaking the real wire format.

One module per service (README, "Local stand-ins"); their tests are in `standins/tests/`. `make run`
starts those whose real service is not configured; the test fixtures start them on free ports.
"""
