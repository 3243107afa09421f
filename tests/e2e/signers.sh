#!/bin/sh
# Who signs and who is reminded (CONTRACT §3 cards.signers, §4, §7): a card is never signed by
# its own recipient, whatever rule named the signer (the owner signs instead, else the
# organization); a signer's reminder goes to the signer's own address (cards.signers, else the
# owner_email of a stakeholder the signer owns), never to another owner's; with neither, a
# warning names the signer and nothing is sent.
. tests/e2e/lib.inc
setup

cat > "$T/etc/occasions.yaml" <<'EOF'
occasions:
  - id: anniv
    name: Work anniversary
    when: {anniversary_of: hire_date}
    lead: 10 days
    channel: card
    template: work-anniversary
    variants:
      - {tier: platinum, signer: "Dana Ruiz"}
  - id: thanks
    name: Thank you
    when: {anniversary_of: customer_since}
    lead: 10 days
    channel: card
    template: thank-you
    signer: "Dana Ruiz"
EOF
cat > "$T/people.csv" <<'EOF'
id,first_name,last_name,type,tier,owner,owner_email,street,city,country,hire_date,customer_since
e1,Dana,Ruiz,employee,platinum,Priya Raman,priya.raman@acme.example,1 Main St,Springfield,USA,2016-12-13,
e2,Sam,Ortiz,employee,platinum,Priya Raman,priya.raman@acme.example,2 Main St,Springfield,USA,2016-12-13,
c1,Dana,Ruiz,customer,gold,,,3 Main St,Springfield,USA,,2016-12-13
EOF
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
OCC plan --from 2026-12-01 --days 10 --format csv > "$T/plan.csv" 2> "$T/plan.err"
"$PY" - "$T/plan.csv" > "$T/signers" <<'EOF'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(r["RULE"] + ":" + r["STAKEHOLDER"] + "=" + r["SIGNER"])
EOF
check_out "a variant's signer signs others' cards" "anniv:e2=Dana Ruiz" "$T/signers"
check_out "Dana Ruiz does not sign her own card: her owner does" "anniv:e1=Priya Raman" "$T/signers"
check_out "a rule's signer who is the recipient, no owner: the organization signs" "thanks:c1=Acme Corp" "$T/signers"

# Without cards.signers and no stakeholder owned by Dana Ruiz: no reminder, a warning naming her.
cat >> "$CFG" <<EOF
  remind_signers: true
EOF
OCC run --once --at 2026-12-03T10:00 > /dev/null 2> "$T/run1.err"
check_out "no address for the signer: a warning names her" "no address to remind Dana Ruiz" "$T/run1.err"
check_not "... and nothing goes to another owner's address" "Dana_Ruiz.pdf: reminder sent" "$T/run1.err"
ls "$T/var/spool/outbox/new" 2>/dev/null | grep -c '^remind\..*Dana' > "$T/n1"
eq "no reminder for Dana Ruiz's batch" "$(cat "$T/n1")" 0

# With cards.signers: the next batch's reminder goes to Dana Ruiz's own address.
rm -rf "$T/var"
cat >> "$CFG" <<EOF
  signers:
    "Dana Ruiz": dana.ruiz@acme.example
EOF
OCC import stakeholders "$T/people.csv" > /dev/null 2>&1
OCC run --once --at 2026-12-03T10:00 > /dev/null 2> "$T/run2.err"
f=$(ls "$T/var/spool/outbox/new" | grep '^remind\..*Dana' | head -1)
check "a reminder for Dana Ruiz's batch is written" test -n "$f"
"$PY" - "$T/var/spool/outbox/new/$f" > "$T/rem" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("to", m["To"].addresses[0].addr_spec, m["To"].addresses[0].display_name)
EOF
check_out "the reminder goes to the signer's own address" "to dana.ruiz@acme.example Dana Ruiz" "$T/rem"
