# bench/plan_data.sh: the rules and the generated stakeholders of the plan benches (plan.sh,
# plan_run.sh), sourced by both: plan_rules DIR writes DIR/rules.yaml; plan_people N FILE
# writes N stakeholders as CSV.
plan_rules() {
mkdir -p "$1"
cat > "$1/rules.yaml" <<'EOF'
calendar:
  weekend: [saturday, sunday]
  holidays: ["12-25", "12-26", "01-01", "easter-2", "easter+1"]
limits:
  per_stakeholder: {max: 3, within: 30 days}
  budget: {amount: 1000000.00, per: year}
occasions:
  - {id: birthday, when: {anniversary_of: birthday}, lead: 10 days, channel: preferred, template: birthday, cost: 3.50, priority: 50}
  - {id: work, when: {anniversary_of: hire_date, years: [1, 5, 10, 20]}, channel: card, template: work-anniversary, cost: 3.50}
  - {id: partner, when: {anniversary_of: customer_since}, channel: email, template: partnership-anniversary}
  - {id: renewal, when: {anniversary_of: contract_renewal}, lead: 2 weeks, channel: email, template: thank-you}
  - {id: holiday, when: {date: "12-24"}, lead: 3 weeks, channel: email, template: holiday, audience: {tier: gold}}
  - {id: thanks, when: {nth_weekday: {n: 4, weekday: thursday, month: 11}}, channel: email, template: thank-you, audience: {type: customer}}
  - {id: quarterly, when: {every: 3 months}, channel: email, template: thinking-of-you, audience: {tier: [gold, platinum]}}
  - {id: reach-out, when: {no_contact_for: 8 weeks}, channel: email, template: thinking-of-you}
  - {id: promo, when: {event: promotion}, channel: card, template: promotion}
  - {id: surprise, when: {surprise: {count: 20, per: week}}, channel: email, template: thinking-of-you}
EOF
}

plan_people() {
	/usr/bin/python3 - "$1" "$2" <<'PYEOF'
import csv, sys, random
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
zones = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", ""]
def day(y0, y1):
    return "%04d-%02d-%02d" % (rnd.randint(y0, y1), rnd.randint(1, 12), rnd.randint(1, 28))
with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["id", "first_name", "last_name", "type", "tier", "email", "preferred_channel", "timezone", "street",
                "city", "birthday", "hire_date", "customer_since", "contract_renewal", "consent_personal"])
    for i in range(n):
        emp = i % 5 == 0
        w.writerow(["s%07d" % i, "Name%d" % i, "Family", "employee" if emp else "customer",
                    ["", "gold", "platinum", "silver"][i % 4], "p%d@example.com" % i, "card" if i % 3 == 0 else "email",
                    zones[i % 5], "%d Main St" % i, "Springfield", day(1950, 2000), day(2000, 2025) if emp else "",
                    "" if emp else day(2005, 2025), "" if emp else day(2024, 2027), "yes"])
PYEOF
}
