"""The README's customer-area set-up never lets a customer's login choose the customer."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
RULE = re.compile(r"^(?P<who>\S+)\s+ALL=\(svcconsole\)\s+NOPASSWD:\s+(?P<command>/\S+)(?P<arguments>.*)$")


def sudo_rules() -> list[re.Match[str]]:
    blocks = re.findall(r"```\n(.*?)```", README.read_text(), re.DOTALL)
    return [match for block in blocks for line in block.splitlines() if (match := RULE.match(line.strip()))]


def test_every_per_customer_sudo_rule_fixes_its_argument():
    rules = sudo_rules()
    assert rules, "the README shows no sudoers rule"
    for rule in rules:
        if rule["who"] == "svcclient":
            assert rule["command"].endswith("svcconsole-shared"), "only the shared account's own wrapper takes any argument"
            continue
        assert rule["arguments"].strip(), f"{rule.group(0)!r} accepts any argument: a customer with a shell opens any customer"
        assert rule["command"].endswith("svcconsole-client")


def test_the_wrapper_takes_the_customer_from_sudo_user_through_a_root_owned_map():
    text = README.read_text()
    assert 'awk -v login="$SUDO_USER"' in text and "/etc/svcconsole/customers.map  (root:root, 0644)" in text
    assert '%svcclients ALL=(svcconsole) NOPASSWD: /usr/local/bin/svcconsole-client ""' in text
