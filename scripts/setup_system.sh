#!/usr/bin/env bash
# System packages the test suite needs beyond requirements.txt (called by `make test`).
# Only installs what is missing, and only as root; otherwise the tests that need it skip.
set -u

if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup_system: installing openssh-server (sshd for the SSH remote test)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null \
            && apt-get install -y -qq --no-install-recommends openssh-server >/dev/null \
            || echo "setup_system: could not install openssh-server; the SSH remote test will skip"
    else
        echo "setup_system: sshd missing and not root (or no apt-get); the SSH remote test will skip"
    fi
fi

# Chromium renders the comparison page in its browser test (tests/compare/test_page.py)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-headless-shell >/dev/null 2>&1
then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup_system: installing chromium (the report page's browser test)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null \
            && apt-get install -y -qq --no-install-recommends chromium >/dev/null \
            || echo "setup_system: could not install chromium; the browser test will skip"
    else
        echo "setup_system: chromium missing and not root (or no apt-get); the browser test will skip"
    fi
fi
exit 0
