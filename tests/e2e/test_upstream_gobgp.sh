#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The upstream suite (test_upstream.sh) with GoBGP as the upstream router:
# the same rules must read the same in its table as in BIRD's.
AG_UP_ROUTER=gobgp exec bash "$(dirname "$0")/test_upstream.sh" "$@"
