#!/usr/bin/python3
"""Writes a realistic year of dispatch records for the example stakeholders into an occasiond
database (schema version 1 or later), for the report tests: birthday and holiday cards that went
through printed/signed/mailed, quarterly notes and reach-outs by email, a few failures, unknowns,
retries, missed and cancelled ones, and some stakeholders nobody has written to for months.
Deterministic: the same database comes out every time.

usage: gen_history.py DB END_DATE
DB is an SQLite file or a postgresql:// URI (read and written with psql, the schema occasiond).
"""
import csv
import datetime as dt
import io
import random
import sqlite3
import subprocess
import sys

db, end = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
start = end - dt.timedelta(days=365)
rnd = random.Random(20261123)
PG = db.startswith(('postgresql://', 'postgres://'))
PEOPLE = "SELECT * FROM stakeholders WHERE opted_out NOT IN ('1','yes','true') ORDER BY id"


def psql(sql, data=None):
    return subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--csv', '-d', db, '-c',
                           'SET search_path = occasiond; ' + sql if data is None else sql],
                          input=data, capture_output=True, text=True, check=True).stdout


if PG:
    people = list(csv.DictReader(io.StringIO(psql(PEOPLE))))
else:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    people = con.execute(PEOPLE).fetchall()
rows = []
next_id = [1]


def add(rule, sh, occasion, channel, status, lead=0, cost=0, reason='', error='', attempts=1):
    fire = occasion - dt.timedelta(days=lead)
    if fire > end or occasion < start - dt.timedelta(days=30):
        return
    fire_at = int(dt.datetime(fire.year, fire.month, fire.day, 8, 0, tzinfo=dt.timezone.utc).timestamp())
    rid = next_id[0]
    next_id[0] += 1
    rows.append(dict(id=rid, rule=rule, stakeholder=sh['id'], occasion_date=occasion.isoformat(),
                     fire_date=fire.isoformat(), fire_at=fire_at, channel=channel, status=status, reason=reason,
                     attempts=attempts if channel == 'email' else 0, error=error,
                     artifact='', page=0, message_id='', signer=sh['owner'] or 'Acme Corp',
                     cost_cents=int(round(cost * 100)), template=rule, next_attempt_at=0, data_sent=0,
                     last_reply='', created_at=fire_at, updated_at=fire_at))


def card_status(occasion):
    # Old cards went all the way; recent ones are still with the signer.
    age = (end - occasion).days
    if age > 20:
        return rnd.choices(['mailed', 'mailed', 'mailed', 'signed', 'cancelled'], k=1)[0]
    return rnd.choice(['rendered', 'printed', 'signed'])


silent = {p['id'] for p in people[5::9]}   # a few nobody writes to
for p in people:
    if p['id'] in silent:
        continue
    if p['birthday'] and len(p['birthday']) == 10 or (p['birthday'] or '').startswith('--'):
        m, d = (int(x) for x in p['birthday'][-5:].split('-'))
        for y in (end.year - 1, end.year):
            try:
                occ = dt.date(y, m, d)
            except ValueError:
                occ = dt.date(y, m, 28)
            if start <= occ <= end + dt.timedelta(days=7):
                cost = 12.0 if p['tier'] == 'platinum' else 3.5
                add('birthday', p, occ, 'card', card_status(occ), lead=7, cost=cost)
    holiday = dt.date(end.year - 1, 12, 25)
    if p['preferred_channel'] == 'email' and p['email']:
        add('holiday', p, holiday, 'email', 'sent', lead=5, cost=0)
    elif p['street']:
        add('holiday', p, holiday, 'card', card_status(holiday), lead=10, cost=2.5)
    if p['type'] == 'customer' and p['tier'] in ('gold', 'platinum') and p['email']:
        for k in range(4):
            occ = start + dt.timedelta(days=45 + 91 * k + rnd.randrange(10))
            st = rnd.choices(['sent'] * 12 + ['failed', 'retry', 'unknown'], k=1)[0]
            err = {'failed': '550 5.1.1 mailbox unavailable', 'retry': '451 4.3.0 try again later',
                   'unknown': 'connection lost after the message was sent'}.get(st, '')
            add('quarterly-note', p, occ, 'email', st, error=err, attempts=3 if st == 'failed' else 1)
    if p['type'] in ('partner', 'supplier') and p['email'] and rnd.random() < 0.7:
        occ = start + dt.timedelta(days=rnd.randrange(300))
        add('reach-out', p, occ, 'email', rnd.choice(['sent', 'sent', 'sent', 'skipped']),
            reason='')
    if p['type'] == 'customer' and p['tier'] in ('silver', 'bronze', '') and p['email']:
        day = rnd.randrange(20, 90)
        while day < 365:
            add('reach-out', p, start + dt.timedelta(days=day), 'email', 'sent')
            day += rnd.randrange(56, 120)
    if p['contract_renewal'] and p['email']:
        occ = dt.date.fromisoformat(p['contract_renewal'])
        occ = occ.replace(year=end.year) if occ.replace(year=end.year) <= end else occ.replace(year=end.year - 1)
        add('contract-renewal', p, occ, 'email', 'sent', lead=30)
for r in rows:
    if r['status'] == 'skipped':
        r['reason'] = 'missed'
cols = list(rows[0].keys())
if PG:
    # COPY in the order of the ids: the server's identity gives the same ones, 1 to N.
    cols.remove('id')
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows([r[c] for c in cols] for r in rows)
    psql(f"COPY occasiond.dispatches({','.join(cols)}) FROM STDIN (FORMAT csv)", out.getvalue())
else:
    con.executemany(f"INSERT INTO dispatches({','.join(cols)}) VALUES ({','.join(':' + c for c in cols)})", rows)
    con.commit()
print(f"{len(rows)} dispatch records from {start} to {end}")
