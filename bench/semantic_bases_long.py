"""Hand-written long prompts for ``make_semantic_pairs.py``: a pasted text (email, log, order
confirmation, essay, code, lab report...) and several questions about it. A pair either asks the
same question in other words about the same text (a hit), another question about the same text
(``context_question``), or the same question about a text that differs in one detail the answer
depends on (the slot's kind: number, entity...)."""

from __future__ import annotations

from semantic_bases import Context, Question, pool

C = Context
Q = Question
CONTEXTS: list[Context] = []
add = CONTEXTS.append

# ---------------------------------------------------------------- customer support

add(C("support", "support.ctx.refund_email", "email", "Here's an email from a customer:", """
Subject: Still waiting on my refund

Hello,

I returned the {product} from order {order} on March 3rd, and your tracking page says the parcel
was delivered back to your warehouse on March 6th. The return label said refunds are processed
within 5 business days, but it has now been almost three weeks and I have not seen the {amount}
back on my card. I contacted chat support twice; the first agent told me to wait, the second one
closed the conversation without answering. I'm not happy about this: I have ordered from you for
years and never had a problem before.

Please let me know when the refund will be issued, or I will have to dispute the charge with my
bank.

Regards,
{customer}
""", [
    Q("Summarize this email in one sentence.", [
        ("reworded", "Give me a one-sentence summary of this email."),
        ("formality", "tl;dr of this email in a single line pls"),
    ], ("product", "amount", "customer")),
    Q("Draft a polite reply to this customer apologizing and promising the refund within 48 hours.", [
        ("reworded", "Write a courteous answer to this customer: say sorry and commit to refunding them within 48 hours."),
        ("passive", "Draft a polite reply in which the delay is apologized for and the refund is promised within 48 hours."),
    ], ("product", "amount", "customer", "order")),
    Q("What is the customer asking us to do?", [
        ("reworded", "What does the sender of this email want from us?"),
        ("synonym", "What action is the customer requesting?"),
    ]),
    Q("How angry is this customer, on a scale from 1 to 10?", [
        ("reworded", "Rate how upset the customer who wrote this is, from 1 to 10."),
    ]),
    Q("Which order number is this email about?", [
        ("reworded", "What's the order number mentioned in this email?"),
        ("formality", "order # in this email?"),
    ], ("order",)),
], {"product": pool("entity", "blender", "espresso machine", "winter jacket", "robot vacuum", "desk lamp"),
    "order": pool("number", "#48213", "#50917", "#61244", "#73308"),
    "amount": pool("number", "$89.99", "$149.00", "$212.50", "$64.95"),
    "customer": pool("entity", "Laura Chen", "Mark Davies", "Aisha Patel", "Tom Becker")}))

add(C("support", "support.ctx.chat_transcript", "chat transcript", "Below is a support chat transcript.", """
[10:02] Customer: Hi, my {device} stopped syncing with the app yesterday.
[10:03] Agent: Sorry to hear that! Which app version are you on?
[10:05] Customer: {version}, I think. I updated on the weekend.
[10:06] Agent: Thanks. Could you try signing out and back in?
[10:09] Customer: Did that, still nothing. The app says "device offline" but the light is green.
[10:11] Agent: Understood. Please hold the reset button for 10 seconds and re-pair the device.
[10:16] Customer: OK, that worked for a few minutes and then it went offline again.
[10:17] Agent: I'll escalate this to our engineering team. You'll get an email within 2 business days.
[10:18] Customer: Fine. Thanks.
""", [
    Q("Summarize this support conversation for the engineering team.", [
        ("reworded", "Write a short summary of this chat that I can hand over to engineering."),
        ("passive", "Summarize what was tried in this conversation so that it can be passed to the engineers."),
    ], ("device", "version")),
    Q("Was the customer's problem solved in this chat?", [
        ("reworded", "Did the agent manage to fix the customer's issue in this conversation?"),
        ("passive", "Was the issue resolved by the end of the chat?"),
    ]),
    Q("What troubleshooting steps did the agent suggest?", [
        ("reworded", "List the things the agent asked the customer to try."),
    ]),
    Q("Rate the agent's performance in this chat and suggest one improvement.", [
        ("reworded", "How well did the support agent do here? Give one thing they could do better."),
    ]),
], {"device": pool("entity", "smart thermostat", "fitness tracker", "baby monitor", "smart lock"),
    "version": pool("number", "4.2.1", "5.0.3", "3.9.7")}))

# ---------------------------------------------------------------- devops

add(C("devops", "devops.ctx.api_log", "log", "This is from our API server's log:", """
2026-11-18T09:14:02.118Z INFO  http  GET /v1/orders 200 41ms
2026-11-18T09:14:02.551Z INFO  http  POST /v1/orders 201 88ms
2026-11-18T09:14:03.007Z WARN  db    pool exhausted (size={pool}), waiting for a free connection
2026-11-18T09:14:05.009Z ERROR db    timeout acquiring connection after 2000ms
2026-11-18T09:14:05.010Z ERROR http  POST /v1/orders 503 2003ms
2026-11-18T09:14:05.412Z ERROR db    timeout acquiring connection after 2000ms
2026-11-18T09:14:05.413Z ERROR http  GET /v1/orders/{oid} 503 2001ms
2026-11-18T09:14:06.870Z INFO  db    slow query (4.8s): SELECT * FROM order_items WHERE order_id = ANY($1)
2026-11-18T09:14:06.871Z INFO  http  GET /v1/orders 200 4861ms
2026-11-18T09:14:07.002Z WARN  {svc} retrying payment capture (attempt 2/3)
2026-11-18T09:14:07.940Z INFO  http  GET /v1/health 200 2ms
""", [
    Q("What is the root cause of the errors in this log?", [
        ("reworded", "Based on this log, why are the requests failing?"),
        ("formality", "whats actually causing these errors?"),
    ], ("pool",)),
    Q("How many requests failed in this log?", [
        ("reworded", "Count the failed HTTP requests in this log."),
        ("passive", "How many requests were answered with an error here?"),
    ]),
    Q("At what time did the first error occur?", [
        ("reworded", "When does the first ERROR line appear in this log?"),
    ]),
    Q("Suggest a fix for the database connection problem shown here.", [
        ("reworded", "How should I fix the connection pool issue in this log?"),
        ("formality", "any idea how to fix the db pool thing in here?"),
    ], ("pool",)),
], {"pool": pool("number", "10", "20", "5", "50"), "oid": pool("fixed", ["8812", "9127", "10344"]),
    "svc": pool("fixed", ["payments", "billing", "checkout"])}))

add(C("devops", "devops.ctx.k8s_events", "kubectl output", "Output of kubectl describe pod:", """
Name:         {app}-7d9f8c6b5-x2k4q
Namespace:    production
Status:       Running
Containers:
  {app}:
    Image:          registry.internal/{app}:{tag}
    Limits:         cpu: 500m, memory: {mem}
    Requests:       cpu: 250m, memory: 256Mi
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
    Restart Count:  14
Events:
  Type     Reason     Age                 From     Message
  Warning  BackOff    3m (x52 over 2h)    kubelet  Back-off restarting failed container
  Normal   Pulled     4m (x15 over 2h)    kubelet  Container image already present on machine
""", [
    Q("Why does this pod keep restarting?", [
        ("reworded", "What is making this container restart over and over?"),
        ("formality", "why's this pod crashlooping?"),
    ], ("mem",)),
    Q("What memory limit should I set for this container?", [
        ("reworded", "How much memory should this container's limit be raised to?"),
    ], ("mem",)),
    Q("How many times has this container restarted?", [
        ("reworded", "What's the restart count of this container?"),
    ]),
    Q("Which image version is this pod running?", [
        ("reworded", "What image tag does this container use?"),
    ], ("tag",)),
], {"app": pool("entity", "checkout-api", "search-indexer", "image-resizer", "report-worker"),
    "tag": pool("number", "v2.14.3", "v3.0.1", "v1.9.12"), "mem": pool("entity", "512Mi", "1Gi", "768Mi", "2Gi")}))

add(C("devops", "devops.ctx.ci_log", "CI log", "Our CI job failed with this output:", """
$ npm ci
added 1184 packages in 41s
$ npm run build
> web@{ver} build
> tsc -p . && vite build
src/components/Cart.tsx:{line}:17 - error TS2339: Property 'totalPrice' does not exist on type 'CartState'.
{line}     const total = state.totalPrice.toFixed(2);
                           ~~~~~~~~~~
Found 1 error in src/components/Cart.tsx:{line}
ERROR: Job failed: exit code 2
""", [
    Q("Why did this CI job fail?", [
        ("reworded", "What made this build fail?"),
        ("formality", "why is CI red here?"),
    ]),
    Q("How do I fix this TypeScript error?", [
        ("reworded", "What change to the code would make this TypeScript error go away?"),
    ]),
    Q("On which line of which file is the error?", [
        ("reworded", "Where exactly, file and line, is the error reported?"),
    ], ("line",)),
    Q("How long did npm ci take?", [
        ("reworded", "How many seconds did installing the packages take in this job?"),
    ]),
], {"line": pool("number", "42", "57", "118", "23"), "ver": pool("fixed", ["1.4.0", "2.0.0-rc.1"])}))

# ---------------------------------------------------------------- shopping / orders

add(C("shopping", "shop.ctx.order_confirmation", "order confirmation", "I got this order confirmation:", """
Thank you for your order, {customer}!

Order number: {order}
Placed on: 12 November 2026

  1 x {item1}                 {price1}
  2 x Cotton socks (pack of 3)    $18.00
  1 x Gift wrapping               $4.50

Subtotal:                         {subtotal}
Shipping ({method}):              {shipping}
Estimated delivery:               {eta}

Payment: Visa ending in 4417
Shipping to: 221 Harbour Street, Apt 5, Portland, OR 97201
""", [
    Q("When will my order arrive?", [
        ("reworded", "What's the expected delivery date for this order?"),
        ("formality", "when's this gonna get here?"),
    ], ("eta",)),
    Q("How much did I pay for shipping?", [
        ("reworded", "What was the shipping cost on this order?"),
        ("passive", "How much was charged for shipping?"),
    ], ("shipping",)),
    Q("What is the total amount charged, including shipping?", [
        ("reworded", "Add everything up: what's the grand total with shipping?"),
    ], ("subtotal", "shipping")),
    Q("Which items did I order?", [
        ("reworded", "List the products in this order."),
    ], ("item1",)),
    Q("Write an email to the shop asking to change the delivery address on this order.", [
        ("reworded", "Draft a message to the store requesting a different shipping address for this order."),
    ], ("order", "customer")),
], {"customer": pool("entity", "Jamie", "Rosa", "Daniel", "Mei"),
    "order": pool("number", "#A-30418", "#A-31952", "#A-40077"),
    "item1": pool("entity", "Merino wool sweater (M)", "Rain jacket (L)", "Leather belt (32)"),
    "price1": pool("fixed", ["$89.00", "$120.00", "$45.00"]),
    "subtotal": pool("number", "$111.50", "$142.50", "$67.50"),
    "method": pool("fixed", ["Standard", "Express"]),
    "shipping": pool("number", "$6.95", "$12.00", "$0.00"),
    "eta": pool("entity", "Nov 15-17", "Nov 19-22", "Nov 14")}))

add(C("shopping", "shop.ctx.return_policy", "policy", "This is the store's return policy:", """
Returns & Exchanges

You can return most items within {days} days of delivery for a full refund. Items must be unused,
in their original packaging, with all tags attached. Sale items marked "Final Sale" cannot be
returned or exchanged. Electronics can be returned within 15 days if unopened; opened electronics
are subject to a {fee} restocking fee. Return shipping is free for {member} members; everyone
else pays a flat $7.99, deducted from the refund. Refunds go back to the original payment method
within 5-10 business days after we receive the item. Gift returns are refunded as store credit.
""", [
    Q("Can I return opened headphones I bought 10 days ago?", [
        ("reworded", "I opened a pair of headphones 10 days after buying them. Can they still be returned?"),
    ], ("fee",)),
    Q("How many days do I have to return a sweater?", [
        ("reworded", "What's the return window for clothing like a sweater?"),
    ], ("days",)),
    Q("Who pays for return shipping?", [
        ("reworded", "Is return shipping free, or do I have to pay for it?"),
    ], ("member",)),
    Q("Summarize this return policy in three bullet points.", [
        ("reworded", "Give me the key points of this policy as 3 bullets."),
    ], ("days", "fee", "member")),
], {"days": pool("number", "30", "14", "60", "45"), "fee": pool("number", "15%", "10%", "20%"),
    "member": pool("entity", "Plus", "Gold", "Prime Club")}))

# ---------------------------------------------------------------- coding

add(C("coding", "coding.ctx.python_func", "code", "Here's a Python function from our codebase:", """
```python
def merge_intervals(intervals):
    if not intervals:
        return []
    intervals.sort(key=lambda x: x[0])
    merged = [intervals[0]]
    for start, end in intervals[1:]:
        last = merged[-1]
        if start {op} last[1]:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
    return merged
```
""", [
    Q("Is there a bug in this function?", [
        ("reworded", "Does this function have any bugs?"),
        ("formality", "spot anything wrong with this code?"),
    ], ("op",)),
    Q("What is the time complexity of this function?", [
        ("reworded", "What's the big-O running time of this code?"),
        ("synonym", "How does this function's runtime scale with the number of intervals?"),
    ]),
    Q("Write pytest unit tests for this function.", [
        ("reworded", "Write some tests, using pytest, that cover this function."),
    ], ("op",)),
    Q("Rewrite this function in {lang}.", [
        ("reworded", "Port this code to {lang}."),
        ("formality", "can u translate this into {lang}?"),
    ], ("lang", "op")),
    Q("Explain what this function does, line by line.", [
        ("reworded", "Walk me through this code one line at a time."),
    ], ("op",)),
], {"op": pool("entity", "<=", "<"), "lang": pool("entity", "JavaScript", "Go", "Rust", "Java")}))

add(C("coding", "coding.ctx.js_fetch", "code", "Can you look at this JavaScript?", """
```javascript
async function loadUser(id) {
  const res = await fetch(`/api/users/${id}`, { headers: { Accept: "application/json" } });
  if (res.status === {status}) {
    return null;
  }
  const data = res.json();
  return { name: data.name, email: data.email, joined: new Date(data.created_at) };
}
```
""", [
    Q("Why does this function return undefined for name and email?", [
        ("reworded", "Why are name and email always undefined in the object this returns?"),
        ("formality", "name + email come back undefined, why??"),
    ]),
    Q("Add error handling for network failures to this function.", [
        ("reworded", "Make this function handle the case where the network request itself fails."),
    ]),
    Q("Convert this function to TypeScript with proper types.", [
        ("reworded", "Rewrite this in TypeScript and type it properly."),
    ]),
    Q("What does this function return when the user doesn't exist?", [
        ("reworded", "If there's no such user, what comes back from this function?"),
    ], ("status",)),
], {"status": pool("entity", "404", "204", "410")}))

add(C("coding", "coding.ctx.sql_schema", "schema", "Our database schema:", """
CREATE TABLE customers (id SERIAL PRIMARY KEY, name TEXT NOT NULL, country TEXT, created_at TIMESTAMPTZ);
CREATE TABLE orders (id SERIAL PRIMARY KEY, customer_id INT REFERENCES customers(id),
                     total_cents INT NOT NULL, status TEXT CHECK (status IN ('paid','refunded','pending')),
                     placed_at TIMESTAMPTZ NOT NULL);
CREATE INDEX orders_customer_idx ON orders (customer_id);
""", [
    Q("Write a query for the top {n} customers by total paid order value.", [
        ("reworded", "Give me SQL that returns the {n} customers who spent the most on paid orders."),
        ("formality", "sql: top {n} customers by paid order total?"),
    ], ("n",)),
    Q("Write a query that counts orders per country in {year}.", [
        ("reworded", "I need SQL returning the number of orders for each country during {year}."),
    ], ("year",)),
    Q("What index would speed up queries filtering orders by status and date?", [
        ("reworded", "Which index should I add to make lookups of orders by status and placed_at faster?"),
    ]),
    Q("Is there anything wrong with this schema design?", [
        ("reworded", "Do you see any problems with how these tables are designed?"),
    ]),
], {"n": pool("number", "5", "10", "20"), "year": pool("number", "2024", "2025", "2023")}))

# ---------------------------------------------------------------- finance

add(C("finance", "finance.ctx.invoice", "invoice", "We received this invoice:", """
INVOICE {inv}
From: {vendor}, 14 Mill Lane, Leeds LS1 4AB
To: Northwind Ltd, Accounts Payable
Date: 2 October 2026          Payment terms: {terms}

  Consulting services, September (32 h at GBP 95.00)     GBP 3,040.00
  Travel expenses                                       GBP   {travel}
  Subtotal                                              GBP {subtotal}
  VAT ({vat})                                            GBP   {vat_amount}
  Total due                                             GBP {total}

Bank: Lloyds, sort code 30-94-12, account 11223344
""", [
    Q("Is the total on this invoice calculated correctly?", [
        ("reworded", "Check the math on this invoice: is the total right?"),
        ("formality", "does this invoice add up?"),
    ], ("travel", "vat", "total")),
    Q("When is this invoice due for payment?", [
        ("reworded", "What's the payment due date of this invoice?"),
    ], ("terms",)),
    Q("How should we book this invoice in our accounts?", [
        ("reworded", "What journal entry do we make for this invoice?"),
    ], ("vat", "total")),
    Q("How much VAT are we being charged?", [
        ("reworded", "What's the VAT amount on this invoice?"),
    ], ("vat_amount",)),
], {"inv": pool("fixed", ["INV-2026-0412", "INV-2026-0588"]),
    "vendor": pool("fixed", ["Harper & Cole Consulting", "Blue Fern Advisory"]),
    "terms": pool("entity", "30 days net", "14 days net", "due on receipt", "60 days net"),
    "travel": pool("fixed", ["186.40"]), "subtotal": pool("fixed", ["3,226.40"]),
    "vat": pool("entity", "20%", "5%"), "vat_amount": pool("number", "645.28", "161.32"),
    "total": pool("number", "3,871.68", "3,387.72")}))

add(C("finance", "finance.ctx.pnl", "table", "Here is our quarterly P&L:", """
                     Q1        Q2        Q3
Revenue           {r1}   1,380,000   1,512,000
Cost of goods       610,000     655,000     731,000
Gross profit      {g1}     725,000     781,000
Operating expenses  402,000     418,000     {opex3}
Operating income  {o1}     307,000     {o3}
""", [
    Q("What was the gross margin in Q2?", [
        ("reworded", "Compute Q2's gross margin as a percentage."),
    ]),
    Q("How much did revenue grow from Q1 to Q3?", [
        ("reworded", "By what percentage did revenue increase between Q1 and Q3?"),
    ], ("r1",)),
    Q("Which quarter had the highest operating income?", [
        ("reworded", "In which quarter was operating income the largest?"),
    ], ("o3", "opex3")),
    Q("Write a short commentary on these results for the board.", [
        ("reworded", "Draft a brief note on these numbers for our board members."),
    ], ("r1", "opex3")),
], {"r1": pool("number", "1,240,000", "1,190,000"), "g1": pool("fixed", ["630,000"]),
    "o1": pool("fixed", ["228,000"]), "opex3": pool("number", "455,000", "512,000"),
    "o3": pool("number", "326,000", "269,000")}))

# ---------------------------------------------------------------- travel

add(C("travel", "travel.ctx.itinerary", "booking email", "My airline sent me this:", """
Booking reference: {ref}
Passenger: {passenger}

Flight 1: {f1}  {from_city} ({from_code}) -> Frankfurt (FRA)
          Departs 06:40, 14 Dec, Terminal 2   Arrives 08:05
Flight 2: LH 1234  Frankfurt (FRA) -> {to_city}
          Departs {dep2}, 14 Dec, Terminal 1   Arrives 14:55

Baggage: 1 x 23 kg checked bag, 1 x 8 kg cabin bag
Fare: Economy Light (changes for a fee; non-refundable)
""", [
    Q("How long is my layover in Frankfurt?", [
        ("reworded", "How much time do I have between my two flights in Frankfurt?"),
        ("formality", "layover in FRA, how long?"),
    ], ("dep2",)),
    Q("Can I get a refund if I cancel this booking?", [
        ("reworded", "If I cancel, will I get my money back for this ticket?"),
    ]),
    Q("How much luggage can I take?", [
        ("reworded", "What's my baggage allowance on this booking?"),
    ]),
    Q("Where do I arrive at the end of this trip?", [
        ("reworded", "What's my final destination on this itinerary?"),
    ], ("to_city",)),
], {"ref": pool("fixed", ["K7Q2LM", "ZX4P9R"]), "passenger": pool("fixed", ["MS ELENA FISCHER", "MR ODE BAKARE"]),
    "f1": pool("fixed", ["LH 903", "LH 117"]),
    "from_city": pool("fixed", ["London Heathrow"]), "from_code": pool("fixed", ["LHR"]),
    "to_city": pool("entity", "Vienna (VIE)", "Krakow (KRK)", "Bologna (BLQ)", "Porto (OPO)"),
    "dep2": pool("entity", "09:20", "11:45", "13:10")}))

add(C("travel", "travel.ctx.hotel_reviews", "reviews", "Some reviews of the hotel we're considering:", """
"Great location, two minutes from the {landmark}. Rooms are small but spotless. Breakfast was
average and pricey." - 4/5

"The staff were lovely but the street noise at night was unbearable; ask for a room at the back."
- 3/5

"Stayed {nights} nights for a conference. Wi-Fi dropped constantly, which was a problem for work.
Bed was very comfortable." - 3/5

"Perfect for a weekend: walkable to everything, friendly reception, and they kept our bags after
checkout." - 5/5
""", [
    Q("What are the main complaints in these reviews?", [
        ("reworded", "What do guests dislike about this hotel, according to these reviews?"),
    ], ()),
    Q("What do reviewers like most about this hotel?", [
        ("reworded", "Based on these reviews, what are the hotel's best points?"),
    ], ("landmark",)),
    Q("Is this hotel a good choice for a business trip?", [
        ("reworded", "Would this hotel work well if I'm traveling for work?"),
    ], ("nights",)),
    Q("What is the average rating of these reviews?", [
        ("reworded", "Compute the mean star rating across these reviews."),
    ]),
], {"landmark": pool("entity", "cathedral", "central station", "old harbour"), "nights": pool("fixed", ["four", "three"])}))

# ---------------------------------------------------------------- health

add(C("health", "health.ctx.lab_results", "lab report", "My blood test results came back:", """
Complete blood count and metabolic panel, fasting

  Hemoglobin          {hb} g/dL      (ref 12.0 - 15.5)
  White blood cells   7.2 x10^9/L    (ref 4.0 - 11.0)
  Platelets           245 x10^9/L    (ref 150 - 400)
  Fasting glucose     {glu} mg/dL    (ref 70 - 99)
  LDL cholesterol     {ldl} mg/dL    (ref < 100)
  TSH                 2.1 mIU/L      (ref 0.4 - 4.0)
  Vitamin D (25-OH)   {vitd} ng/mL    (ref 30 - 100)
""", [
    Q("Which of these values are outside the normal range?", [
        ("reworded", "Which results here are out of range?"),
        ("formality", "anything abnormal in these results?"),
    ], ("hb", "glu", "ldl", "vitd")),
    Q("Explain these results in plain language.", [
        ("reworded", "What do these blood test numbers mean, in simple terms?"),
    ], ("hb", "glu", "ldl", "vitd")),
    Q("Is my fasting glucose in the prediabetes range?", [
        ("reworded", "Does my fasting blood sugar count as prediabetic?"),
    ], ("glu",)),
    Q("What questions should I ask my doctor about these results?", [
        ("reworded", "Suggest some questions to bring to my doctor about this blood work."),
    ], ("hb", "glu", "ldl", "vitd")),
], {"hb": pool("number", "13.4", "11.2", "14.8"), "glu": pool("number", "92", "108", "131"),
    "ldl": pool("number", "96", "142", "171"), "vitd": pool("number", "34", "18", "52")}))

add(C("health", "health.ctx.discharge", "discharge note", "The hospital gave me this discharge note:", """
Discharge summary

Diagnosis: {dx}
Procedure: none
Medications on discharge:
  - {med} {dose}, twice daily for {days} days
  - Paracetamol 500 mg, up to 4 times a day as needed for pain
Follow-up: GP in 1 week; return to the emergency department if fever above 38.5 C,
worsening pain, or shortness of breath.
Activity: light activity only; no heavy lifting for 2 weeks.
""", [
    Q("How long do I have to take the {med}?", [
        ("reworded", "For how many days should I keep taking {med}?"),
    ], ("days",)),
    Q("When should I go back to the emergency department?", [
        ("reworded", "What symptoms mean I should return to the ER?"),
    ]),
    Q("Explain my diagnosis in simple words.", [
        ("reworded", "What does my diagnosis mean, in plain English?"),
    ], ("dx",)),
    Q("Can I go to the gym next week?", [
        ("reworded", "Is it OK for me to lift weights at the gym next week?"),
    ]),
], {"dx": pool("entity", "community-acquired pneumonia", "cellulitis of the left leg", "acute pyelonephritis"),
    "med": pool("entity", "Amoxicillin", "Doxycycline", "Cefalexin"), "dose": pool("fixed", ["500 mg", "100 mg"]),
    "days": pool("number", "7", "5", "10")}))

# ---------------------------------------------------------------- legal / HR

add(C("legal_hr", "legal.ctx.contract_clause", "contract clause", "This is a clause from my employment contract:", """
12. Restrictive covenants

12.1 For a period of {months} months after the termination of employment, for whatever reason,
the Employee shall not, within {radius} of any office of the Company, be engaged in or concerned
with any business that competes with the Company's {line} business.

12.2 For a period of 12 months after termination, the Employee shall not solicit any client of
the Company with whom the Employee had material dealings in the last 12 months of employment.

12.3 Each restriction is separate and severable. If any restriction is held unenforceable, the
remaining restrictions continue to apply.
""", [
    Q("Is this non-compete clause likely to be enforceable?", [
        ("reworded", "Would a court probably enforce this non-compete?"),
        ("formality", "can they actually enforce this noncompete??"),
    ], ("months", "radius")),
    Q("Summarize what this clause stops me from doing after I leave.", [
        ("reworded", "In plain words, what can't I do after leaving, according to this clause?"),
    ], ("months", "radius", "line")),
    Q("Can I still work for a client of the company after I leave?", [
        ("reworded", "Does this clause stop me from working with the company's clients once I've left?"),
    ]),
    Q("What does the severability part mean?", [
        ("reworded", "Explain clause 12.3 to me."),
    ]),
], {"months": pool("number", "6", "12", "24"), "radius": pool("entity", "10 miles", "50 miles", "25 kilometers"),
    "line": pool("entity", "software consulting", "commercial insurance", "dental supplies")}))

add(C("legal_hr", "legal.ctx.hr_complaint", "email", "An employee sent HR this email:", """
Hi HR team,

I'd like to raise a concern about my manager, {manager}. Over the last {weeks} weeks he has
repeatedly scheduled team meetings at 7 pm and criticized people who couldn't attend, including
me; I care for my mother in the evenings and told him so in writing. Last Thursday he said in
front of the team that "people who can't commit should find another job". I have the messages
and two colleagues who heard the comment. I don't want this to become a formal grievance yet, but
I'd like advice on my options.

Thanks,
{employee}
""", [
    Q("What options does this employee have under a typical grievance policy?", [
        ("reworded", "Based on this email, what routes are open to the employee?"),
    ]),
    Q("Draft a reply from HR acknowledging the concern and proposing a meeting.", [
        ("reworded", "Write HR's answer to this email: acknowledge it and suggest meeting to discuss."),
    ], ("employee", "manager")),
    Q("Could the manager's behaviour be discrimination related to caring responsibilities?", [
        ("reworded", "Does the manager's conduct here risk being seen as discrimination against a carer?"),
    ]),
    Q("Summarize this complaint in two sentences.", [
        ("reworded", "Give me a two-sentence summary of this email."),
    ], ("employee", "manager", "weeks")),
], {"manager": pool("entity", "Paul Grant", "Steven Moore", "Rick Alvarez"),
    "employee": pool("entity", "Nadia", "Hannah", "Joanna"), "weeks": pool("number", "6", "3", "10")}))

# ---------------------------------------------------------------- science

add(C("science", "science.ctx.essay", "essay", "Here's a paragraph from my essay:", """
Photosynthesis converts light energy into chemical energy stored in glucose. In the light-dependent
reactions, which take place in the thylakoid membranes, water is split and oxygen is released,
while ATP and NADPH are produced. These molecules then power the Calvin cycle in the {site}, where
carbon dioxide is fixed into sugars by the enzyme {enzyme}. Because the Calvin cycle does not use
light directly, it is sometimes called the "dark reactions", although it mostly runs during the day.
""", [
    Q("Are there any factual errors in this paragraph?", [
        ("reworded", "Does this paragraph get any of the science wrong?"),
        ("formality", "anything factually off here?"),
    ], ("site", "enzyme")),
    Q("Summarize this paragraph in {n} sentences.", [
        ("reworded", "Condense this paragraph into {n} sentences."),
    ], ("n", "site", "enzyme")),
    Q("Rewrite this paragraph for a 10-year-old.", [
        ("reworded", "Explain this paragraph in a way a ten-year-old would understand."),
    ]),
    Q("Translate this paragraph into {tl}.", [
        ("reworded", "Put this paragraph into {tl}."),
    ], ("tl", "site", "enzyme")),
], {"site": pool("entity", "stroma", "mitochondria", "nucleus"), "enzyme": pool("entity", "RuBisCO", "ATP synthase"),
    "n": pool("number", "2", "3", "5"), "tl": pool("entity", "French", "German", "Spanish", "Japanese")}))

add(C("science", "science.ctx.lab_data", "measurements", "Measurements from our pendulum lab:", """
Length (m)   Period (s), 5 trials
0.25         1.01  1.00  0.99  1.02  1.00
0.50         1.42  1.41  1.43  1.42  1.40
0.75         1.74  1.73  1.75  1.74  1.72
1.00         {p100}  2.01  1.99  2.00  2.02
Mass of bob: {mass} g. Amplitude: about 10 degrees.
""", [
    Q("Estimate g from these measurements.", [
        ("reworded", "What value of the gravitational acceleration do these data give?"),
    ], ("p100",)),
    Q("Are there any outliers in this data?", [
        ("reworded", "Do any of these measurements look like outliers?"),
    ], ("p100",)),
    Q("What sources of error could affect this experiment?", [
        ("reworded", "List the likely sources of experimental error here."),
    ]),
    Q("What is the mean period for the 0.50 m length?", [
        ("reworded", "Average the five periods measured at 0.50 m."),
    ]),
], {"p100": pool("entity", "2.00", "2.41", "1.98"), "mass": pool("fixed", ["50", "200"])}))

# ---------------------------------------------------------------- geography / history

add(C("geo_history", "geo.ctx.history_essay", "essay", "Here is an extract from a student's history essay:", """
The Congress of Vienna, which met from 1814 to {end_year}, redrew the map of Europe after the
defeat of Napoleon. Led by {leader} of Austria, the great powers aimed to restore a balance of
power so that no single state could dominate the continent again. France lost the territories it
had conquered but was treated leniently, and the settlement is often credited with preventing a
general European war for almost a century, although critics point out that it ignored the rising
forces of nationalism and liberalism.
""", [
    Q("Grade this extract out of 10 and explain the grade.", [
        ("reworded", "Give this essay extract a mark out of ten, with reasons."),
    ], ("end_year", "leader")),
    Q("What are the strengths of this argument?", [
        ("reworded", "What does this extract argue well?"),
    ]),
    Q("What are the weaknesses of this argument?", [
        ("reworded", "Where is the argument in this extract weak?"),
    ]),
    Q("Check the dates and names in this extract for accuracy.", [
        ("reworded", "Are the names and dates in this extract correct?"),
    ], ("end_year", "leader")),
], {"end_year": pool("number", "1815", "1818"), "leader": pool("entity", "Metternich", "Talleyrand", "Castlereagh")}))

add(C("geo_history", "geo.ctx.travel_blog", "blog post", "From a travel blog I follow:", """
We spent {days} days driving the ring road, starting and ending in the capital. The south coast
was the highlight: black-sand beaches, waterfalls you can walk behind, and a glacier lagoon full of
icebergs. In the east the fjords were quiet and the roads narrow. The north had whale watching and
geothermal baths, and the weather changed every hour. Petrol stations were sometimes 100 km apart,
so fill up whenever you can.
""", [
    Q("Which country is this blog post most likely about?", [
        ("reworded", "Guess the country this post describes."),
    ], ()),
    Q("Make a day-by-day itinerary based on this post.", [
        ("reworded", "Turn this post into a daily travel plan."),
    ], ("days",)),
    Q("What practical advice does the author give?", [
        ("reworded", "List the practical tips in this post."),
    ]),
    Q("What natural features are mentioned in this post?", [
        ("reworded", "Which landscapes and natural sights does the author describe?"),
    ]),
], {"days": pool("number", "8", "10", "12")}))

# ---------------------------------------------------------------- cooking

add(C("cooking", "cooking.ctx.recipe", "recipe", "This is the recipe I'm using:", """
Lemon drizzle cake (serves {serves})

225 g butter, softened
225 g caster sugar
4 eggs
{flour} self-raising flour
Zest of 1 lemon
For the drizzle: juice of 1.5 lemons, 85 g caster sugar

Heat the oven to {temp}. Beat the butter and sugar until pale, add the eggs one at a time, then fold
in the flour and zest. Bake in a lined loaf tin for 45-50 minutes. While warm, prick the cake and
pour over the lemon juice mixed with the sugar.
""", [
    Q("How can I make this recipe gluten-free?", [
        ("reworded", "What should I change in this recipe to make it gluten free?"),
    ], ()),
    Q("Halve this recipe.", [
        ("reworded", "Give me the quantities for half of this recipe."),
    ], ("flour", "serves")),
    Q("Double this recipe.", [
        ("reworded", "What are the amounts if I make twice this recipe?"),
    ], ("flour", "serves")),
    Q("Convert this recipe to cups and Fahrenheit.", [
        ("reworded", "Rewrite this recipe with US cup measures and oven temperatures in Fahrenheit."),
    ], ("flour", "temp")),
    Q("How many calories are in one serving?", [
        ("reworded", "Estimate the calories per serving of this cake."),
    ], ("serves", "flour")),
], {"serves": pool("number", "8", "10", "12"), "flour": pool("entity", "225 g", "275 g", "250 g"),
    "temp": pool("entity", "180 C (160 C fan)", "170 C (150 C fan)", "190 C (170 C fan)")}))

add(C("cooking", "cooking.ctx.meal_plan", "meal plan", "My meal plan for the week:", """
Mon: oatmeal with berries / lentil soup / salmon, rice, broccoli
Tue: yogurt and granola / leftover soup / chicken stir-fry with noodles
Wed: {wed_breakfast} / quinoa salad / beef tacos
Thu: oatmeal with berries / tuna sandwich / vegetable curry with rice
Fri: yogurt and granola / leftover curry / homemade pizza
Budget: about ${budget} for 2 people.
""", [
    Q("Write a shopping list for this meal plan.", [
        ("reworded", "Make me a grocery list covering everything in this plan."),
    ], ("wed_breakfast",)),
    Q("Is this meal plan high enough in protein?", [
        ("reworded", "Does this plan give enough protein?"),
    ], ()),
    Q("Make this meal plan vegetarian.", [
        ("reworded", "Adjust this plan so there's no meat or fish."),
    ], ("wed_breakfast",)),
    Q("Can this plan realistically stay within the budget?", [
        ("reworded", "Is the budget realistic for these meals?"),
    ], ("budget",)),
], {"wed_breakfast": pool("entity", "scrambled eggs on toast", "smoothie bowl", "bacon and eggs"),
    "budget": pool("number", "120", "60", "200")}))

# ---------------------------------------------------------------- math

add(C("math", "math.ctx.word_problem", "word problem", "Homework problem:", """
A water tank holds {cap} liters. Pipe A fills it in {ta} hours and pipe B fills it in {tb} hours.
A drain at the bottom empties a full tank in 12 hours. One morning the tank is empty, both pipes
are opened at 7:00 and the drain is accidentally left open.
""", [
    Q("How long does it take to fill the tank?", [
        ("reworded", "How many hours until the tank is full?"),
        ("formality", "how long till its full?"),
    ], ("ta", "tb")),
    Q("At what time will the tank be full?", [
        ("reworded", "What time of day does the tank become full?"),
    ], ("ta", "tb")),
    Q("How much water is in the tank after 2 hours?", [
        ("reworded", "After two hours, how many liters does the tank hold?"),
    ], ("cap", "ta", "tb")),
    Q("Explain the method for solving this kind of problem without giving the answer.", [
        ("reworded", "Describe how to approach this problem, but don't solve it for me."),
    ]),
], {"cap": pool("number", "600", "900", "1200"), "ta": pool("number", "3", "4", "5"), "tb": pool("number", "6", "8")}))

add(C("math", "math.ctx.dataset", "data", "Weekly sales of our shop:", """
Week   Sales (units)
1      {w1}
2      131
3      127
4      140
5      {w5}
6      152
7      149
8      158
""", [
    Q("What is the mean weekly sales figure?", [
        ("reworded", "Compute the average units sold per week."),
    ], ("w1", "w5")),
    Q("What is the median of these sales numbers?", [
        ("reworded", "Find the median weekly sales."),
    ], ("w1", "w5")),
    Q("Fit a linear trend to these numbers and forecast week 9.", [
        ("reworded", "Using a straight-line trend, predict sales for week 9."),
    ], ("w1", "w5")),
    Q("Is there an outlier in this data?", [
        ("reworded", "Do any weeks stand out as outliers?"),
    ], ("w5",)),
], {"w1": pool("number", "118", "125", "109"), "w5": pool("number", "144", "96", "201")}))
