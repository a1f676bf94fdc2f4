"""Hand-written short prompts for ``make_semantic_pairs.py``: each with paraphrases that need the
same answer and near-misses that need another. Slots ``{name}`` are filled from the pools;
replacing one slot's value makes a near-miss of the pool's kind."""

from __future__ import annotations

from semantic_bases import Short, pool

# ---------------------------------------------------------------- shared pools

CITIES = pool("entity", "Paris", "Lyon", "Berlin", "Munich", "Madrid", "Barcelona", "Rome", "Milan", "Vienna",
              "Prague", "Amsterdam", "Brussels", "Lisbon", "Porto", "Zurich", "Geneva", "Copenhagen",
              "Stockholm", "Warsaw", "Budapest", "Edinburgh", "London", "Dublin", "New York", "Boston",
              "Chicago", "San Francisco", "Los Angeles", "Toronto", "Tokyo", "Osaka", "Seoul",
              "Bangkok", "Singapore", "Sydney", "Buenos Aires", "Rio de Janeiro", "Mexico City",
              "Cape Town", "Hong Kong", "Kuala Lumpur", "Salt Lake City")
RAIL_CITIES = pool("entity", "Paris", "Lyon", "Marseille", "Brussels", "Amsterdam", "Cologne", "Frankfurt",
                   "Munich", "Vienna", "Zurich", "Milan", "Rome", "Florence", "Madrid", "Barcelona",
                   "London", "Edinburgh", "Prague", "Berlin", "Hamburg")
PEOPLE = pool("entity", "Alice", "Bob", "Maria", "Tom", "Priya", "Kenji", "Fatima", "Lucas", "Anna Schmidt",
              "John Miller", "Mary Ann Lee", "Jean-Luc Martin", "Chen Wei", "Sofia Rossi", "Ahmed Hassan",
              "Olivia Brown", "Daniel Okafor", "Sara van der Berg")
LANGS = pool("entity", "Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "Ruby", "Kotlin",
             "Swift", "PHP", "C++")
COUNTRIES = pool("entity", "France", "Germany", "Japan", "Brazil", "Canada", "India", "Australia", "Mexico",
                 "South Korea", "Spain", "Italy", "the Netherlands", "Sweden", "Poland", "Ireland",
                 "New Zealand", "South Africa", "the United Kingdom", "Switzerland", "Portugal")
CURRENCIES = pool("entity", "US dollars", "euros", "British pounds", "Japanese yen", "Swiss francs",
                  "Canadian dollars", "Australian dollars", "Indian rupees", "Mexican pesos")
SMALL = pool("number", "2", "3", "4", "5", "6", "7", "8", "9")
MID = pool("number", "12", "15", "18", "24", "36", "45", "60", "72", "90")
BIG = pool("number", "120", "250", "340", "480", "750", "1,200", "2,500", "4,800")
PERCENT = pool("number", "5", "8", "12", "15", "18", "20", "25", "35")
ORDERS = pool("number", "#48213", "#50917", "#61244", "#73308", "#80452", "#91136")

S = Short
SHORTS: list[Short] = []
add = SHORTS.append

# ---------------------------------------------------------------- coding

add(S("coding", "coding.reverse_list", "How do I reverse a list in {lang}?", [
    ("reworded", "What's the way to flip the order of a list's elements in {lang}?"),
    ("formality", "Could you please explain how one reverses a list in {lang}?"),
    ("synonym", "How can I invert the order of an array in {lang}?"),
    ("reordered", "In {lang}, how do I reverse a list?"),
], [
    ("entity", "How do I sort a list in {lang}?"),
    ("scope", "How do I reverse only the first half of a list in {lang}?"),
    ("negation", "How do I loop over a list in {lang} in reverse without reversing the list itself?"),
], {"lang": LANGS}))

add(S("coding", "coding.str_to_int", "How do I convert a string to an integer in {lang}?", [
    ("synonym", "What's the {lang} way to parse a string into an int?"),
    ("reordered", "In {lang}, turning a string into an integer: how is it done?"),
    ("formality", "hey how do i make a string into an int in {lang}"),
    ("passive", "How can a string be converted into an integer in {lang}?"),
], [
    ("direction", "How do I convert an integer to a string in {lang}?"),
    ("entity", "How do I convert a string to a float in {lang}?"),
    ("negation", "How do I tell that a string can't be converted to an integer in {lang}?"),
], {"lang": LANGS}))

add(S("coding", "coding.insert_complexity", "What is the time complexity of inserting into a {ds}?", [
    ("reworded", "How expensive, in big-O terms, is an insert into a {ds}?"),
    ("reordered", "Insertion into a {ds}: what's its time complexity?"),
    ("synonym", "What's the asymptotic running time of adding an element to a {ds}?"),
    ("formality", "Would you be able to tell me the computational complexity of insertion for a {ds}?"),
], [
    ("opposite", "What is the time complexity of deleting from a {ds}?"),
    ("scope", "What is the worst-case time complexity of inserting into a {ds}?"),
    ("entity", "What is the space complexity of inserting into a {ds}?"),
], {"ds": pool("entity", "hash map", "binary search tree", "sorted array", "linked list", "binary heap",
               "red-black tree", "skip list", "dynamic array")}))

add(S("coding", "coding.git_undo", "In git, how do I undo my last commit but keep the changes?", [
    ("synonym", "How can I roll back the most recent git commit without losing my edits?"),
    ("reordered", "I want to keep my changes but undo the last commit in git. How?"),
    ("passive", "How can the last git commit be undone while the changes are kept?"),
    ("formality", "whats the git command to undo last commit and keep changes lol"),
    ("reworded", "Is there a git command that takes back my latest commit and leaves the modified files in place?"),
], [
    ("opposite", "In git, how do I undo my last commit and throw away the changes?"),
    ("number", "In git, how do I undo my last three commits but keep the changes?"),
    ("scope", "In git, how do I undo a commit from last week that is already pushed, but keep the changes?"),
]))

add(S("coding", "coding.scp", "How do I copy a file from my local machine to a remote server with scp?", [
    ("synonym", "What's the scp command to send a file from my laptop up to a remote server?"),
    ("reordered", "With scp, how do I copy a file from my local machine to a remote server?"),
    ("passive", "How is a file copied from my own computer to a remote server using scp?"),
    ("formality", "scp: local file -> remote box, what's the syntax?"),
], [
    ("direction", "How do I copy a file from a remote server to my local machine with scp?"),
    ("entity", "How do I copy a whole directory from my local machine to a remote server with scp?"),
    ("direction", "What's the scp command to pull a file down from a remote server onto my laptop?"),
]))

add(S("coding", "coding.n_largest", "Write a {lang} function that returns the {n} largest numbers in a list.", [
    ("synonym", "Can you write me a {lang} function that gives back the {n} biggest values from a list?"),
    ("reordered", "Given a list, I need a {lang} function returning its {n} largest numbers."),
    ("formality", "I would be grateful if you could write a {lang} function that returns the {n} largest numbers in a list."),
    ("reworded", "In {lang}, implement a function: input a list of numbers, output the top {n} of them."),
], [
    ("opposite", "Write a {lang} function that returns the {n} smallest numbers in a list."),
    ("entity", "Write a {lang} function that returns the {n} most frequent numbers in a list."),
], {"lang": LANGS, "n": SMALL}))

add(S("coding", "coding.process_thread", "What's the difference between a process and a thread?", [
    ("reordered", "What's the difference between a thread and a process?"),
    ("reworded", "How do threads differ from processes?"),
    ("formality", "process vs thread, how are they different?"),
    ("synonym", "What distinguishes an OS process from a thread?"),
], [
    ("entity", "What's the difference between a process and a coroutine?"),
    ("opposite", "What do a process and a thread have in common?"),
    ("entity", "What's the difference between a thread and a green thread?"),
]))

add(S("coding", "coding.dedupe", "How do I remove duplicates from an array in {lang} while keeping the original order?", [
    ("synonym", "In {lang}, what's the best way to dedupe an array but preserve the order of its elements?"),
    ("reordered", "Keeping the original order, how can I drop the duplicate items from an array in {lang}?"),
    ("passive", "How can duplicates be removed from a {lang} array so that the original order is kept?"),
], [
    ("negation", "How do I remove duplicates from an array in {lang} when I don't care about the order?"),
    ("opposite", "How do I keep only the duplicated items of an array in {lang}, in their original order?"),
    ("entity", "How do I count the duplicates in an array in {lang}?"),
], {"lang": LANGS}))

add(S("coding", "coding.ci_fail", "My {lang} tests pass locally but fail in CI. What are the usual causes?", [
    ("reworded", "What typically makes {lang} tests succeed on my machine yet break in the CI pipeline?"),
    ("reordered", "The usual causes, please: {lang} tests fail in CI but pass locally."),
    ("formality", "why do my {lang} tests work on my laptop but fail on CI??"),
    ("synonym", "My {lang} test suite is green on my computer and red on the build server. Common reasons?"),
], [
    ("direction", "My {lang} tests pass in CI but fail locally. What are the usual causes?"),
    ("entity", "My {lang} build passes locally but fails in CI because of a linker error. What are the usual causes?"),
], {"lang": LANGS}))

add(S("coding", "coding.faster", "Is {x} faster than {y} for CPU-bound work?", [
    ("synonym", "For CPU-heavy workloads, does {x} outperform {y}?"),
    ("reordered", "Is {y} slower than {x} for CPU-bound work?"),
    ("formality", "{x} vs {y} for number crunching: is {x} quicker?"),
], [
    ("opposite", "Is {x} slower than {y} for CPU-bound work?"),
    ("scope", "Is {x} faster than {y} for I/O-bound work?"),
], {"x": LANGS, "y": LANGS}, swap=("x", "y")))

add(S("coding", "coding.env_var", "How do I read an environment variable in {lang}, with a default if it's unset?", [
    ("reworded", "In {lang}, how can I get an env var's value and fall back to a default when it isn't defined?"),
    ("formality", "{lang}: read env var w/ default value if missing?"),
    ("passive", "How is an environment variable read in {lang} so that a default is used when it isn't set?"),
], [
    ("entity", "How do I set an environment variable in {lang}, with a default if it's unset?"),
    ("negation", "How do I read an environment variable in {lang} and fail if it's unset?"),
], {"lang": LANGS}))

add(S("coding", "coding.http_timeout", "How do I set a {n}-second timeout on an HTTP request in {lang}?", [
    ("reworded", "In {lang}, how can I make an HTTP call give up after {n} seconds?"),
    ("synonym", "What's the way to limit an HTTP request in {lang} to {n} seconds before it times out?"),
    ("reordered", "For an HTTP request in {lang}, how do I put a timeout of {n} seconds on it?"),
], [
    ("unit", "How do I set a {n}-millisecond timeout on an HTTP request in {lang}?"),
    ("entity", "How do I set a {n}-second timeout on a database query in {lang}?"),
    ("entity", "How do I retry an HTTP request {n} times in {lang}?"),
], {"n": SMALL, "lang": LANGS}))

add(S("coding", "coding.sql_join", "Write a SQL query that lists customers who have placed more than {n} orders.", [
    ("reworded", "I need SQL to find every customer with over {n} orders."),
    ("passive", "Write a SQL query returning the customers by whom more than {n} orders have been placed."),
    ("formality", "sql pls: customers w/ more than {n} orders"),
    ("synonym", "Give me a SQL statement that shows the clients who made more than {n} purchases."),
], [
    ("opposite", "Write a SQL query that lists customers who have placed fewer than {n} orders."),
    ("negation", "Write a SQL query that lists customers who have never placed an order."),
    ("scope", "Write a SQL query that lists customers who have placed more than {n} orders this year."),
], {"n": SMALL}))

# ---------------------------------------------------------------- math

add(S("math", "math.linear", "Solve for x: {a}x + {b} = {c}", [
    ("reworded", "What is x if {a}x + {b} = {c}?"),
    ("formality", "Find the value of x in the equation {a}x + {b} = {c}."),
    ("reordered", "Given {b} + {a}x = {c}, what is x?"),
    ("synonym", "Work out x where {a} times x plus {b} equals {c}."),
], [
    ("opposite", "Solve for x: {a}x \u2212 {b} = {c}"),
    ("opposite", "Solve for x: {a}x - {b} = {c}"),
    ("entity", "Solve for x: {a}x\u00b2 + {b} = {c}"),
], {"a": SMALL, "b": MID, "c": BIG}))

add(S("math", "math.percent_of", "What is {p}% of {n}?", [
    ("synonym", "How much is {p} percent of {n}?"),
    ("formality", "Could you calculate {p}% of {n} for me, please?"),
    ("reordered", "Of {n}, what's {p}%?"),
    ("reordered", "What is {n}% of {p}?"),
], [
    ("entity", "What is {n} increased by {p}%?"),
    ("direction", "What percentage of {n} is {p}?"),
], {"p": PERCENT, "n": BIG}))

add(S("math", "math.derivative", "What is the derivative of {f}?", [
    ("reworded", "Differentiate {f} with respect to x."),
    ("synonym", "Can you find d/dx of {f}?"),
    ("formality", "i need the derivative of {f} asap"),
    ("passive", "How is {f} differentiated?"),
], [
    ("opposite", "What is the integral of {f}?"),
    ("number", "What is the second derivative of {f}?"),
    ("scope", "What is the derivative of {f} at x = 0?"),
], {"f": pool("entity", "x^3 sin(x)", "e^(2x) cos(x)", "ln(x^2 + 1)", "x^2 e^x", "sqrt(x) / (1 + x)",
              "tan(3x)", "x ln(x)", "(x + 1)^5")}))

add(S("math", "math.choose", "How many ways can I choose {k} people from a group of {n}?", [
    ("passive", "From a group of {n} people, in how many ways can {k} be chosen?"),
    ("reworded", "What's {n} choose {k}?"),
    ("formality", "number of ways to pick {k} out of {n} ppl?"),
    ("synonym", "How many different committees of {k} can be formed out of {n} people?"),
], [
    ("entity", "How many ways can I line up {k} people chosen from a group of {n}?"),
    ("negation", "How many ways can I choose {k} people from a group of {n} if two of them refuse to be chosen together?"),
], {"k": SMALL, "n": MID}, swap=("k", "n")))

add(S("math", "math.prime", "Is {n} a prime number?", [
    ("reworded", "Is {n} divisible only by 1 and itself?"),
    ("formality", "quick check: {n}, prime or not?"),
    ("synonym", "Is the integer {n} prime?"),
], [
    ("opposite", "Is {n} a perfect square?"),
    ("entity", "What are the prime factors of {n}?"),
], {"n": pool("number", "91", "97", "221", "127", "143", "199", "1001", "257")}))

add(S("math", "math.circle_area", "What's the area of a circle with a radius of {r} {u}?", [
    ("reordered", "If a circle's radius is {r} {u}, what is its area?"),
    ("formality", "Compute the area of a circle whose radius measures {r} {u}."),
    ("synonym", "How much surface does a circle of radius {r} {u} cover?"),
], [
    ("entity", "What's the area of a circle with a diameter of {r} {u}?"),
    ("entity", "What's the circumference of a circle with a radius of {r} {u}?"),
], {"r": SMALL, "u": pool("unit", ["centimeters", "meters", "inches", "feet"])}))

add(S("math", "math.mean", "What is the average of {a}, {b} and {c}?", [
    ("synonym", "Compute the mean of {a}, {b} and {c}."),
    ("reordered", "What do {c}, {a} and {b} average to?"),
    ("formality", "avg of {a} {b} {c}?"),
], [
    ("entity", "What is the median of {a}, {b} and {c}?"),
    ("entity", "What is the sum of {a}, {b} and {c}?"),
], {"a": MID, "b": MID, "c": MID}))

add(S("math", "math.binary", "Convert {n} from decimal to binary.", [
    ("reworded", "What is the binary representation of the decimal number {n}?"),
    ("synonym", "Write the base-10 number {n} in base 2."),
    ("passive", "How is decimal {n} written in binary?"),
], [
    ("direction", "Convert {n} from binary to decimal."),
    ("entity", "Convert {n} from decimal to hexadecimal."),
], {"n": pool("number", "101", "110", "1001", "1100", "111", "1011", "1110", "10")}))

add(S("math", "math.discount", "A shirt costs ${p} after a {d}% discount. What was the original price?", [
    ("passive", "The price of a shirt is ${p} once a {d}% discount has been applied. What did it cost originally?"),
    ("reworded", "What was the pre-sale price of a shirt that sells for ${p} at {d}% off?"),
    ("reordered", "What was the original price of a shirt that costs ${p} after a {d}% discount?"),
], [
    ("direction", "A shirt costs ${p} before a {d}% discount. What is the sale price?"),
    ("opposite", "A shirt costs ${p} after a {d}% markup. What was the original price?"),
], {"p": MID, "d": PERCENT}))

add(S("math", "math.divide", "What is {a} divided by {b}?", [
    ("synonym", "How much is {a} / {b}?"),
    ("reworded", "Divide {a} by {b}."),
    ("formality", "{a} over {b} equals what?"),
    ("passive", "What do you get when {a} is divided by {b}?"),
], [
    ("entity", "What is {a} multiplied by {b}?"),
    ("entity", "What is the remainder when {a} is divided by {b}?"),
], {"a": BIG, "b": MID}, swap=("a", "b")))

add(S("math", "math.times", "What is {a} times {b}?", [
    ("reordered", "What is {b} times {a}?"),
    ("synonym", "Multiply {a} by {b}."),
    ("formality", "{a} x {b} = ?"),
], [
    ("entity", "What is {a} plus {b}?"),
    ("opposite", "What is {a} minus {b}?"),
], {"a": MID, "b": MID}, swap=("a", "b"), symmetric=True))

add(S("math", "math.speed", "A train travels {d} kilometers in {h} hours. What is its average speed?", [
    ("reworded", "If a train covers {d} kilometers in {h} hours, how fast is it going on average?"),
    ("passive", "{d} kilometers are covered by a train in {h} hours. What's its average speed?"),
    ("formality", "train does {d} km in {h} hrs, avg speed?"),
], [
    ("unit", "A train travels {d} miles in {h} hours. What is its average speed?"),
    ("unit", "A train travels {d} kilometers in {h} minutes. What is its average speed?"),
    ("entity", "A train travels {d} kilometers at {h} kilometers per hour. How long does the trip take?"),
], {"d": BIG, "h": SMALL}))

# ---------------------------------------------------------------- travel

add(S("travel", "travel.train_cheap", "What's the cheapest way to get from {a} to {b} by train?", [
    ("reworded", "By rail, how can I travel from {a} to {b} for the least money?"),
    ("formality", "yo whats the cheapest train from {a} to {b}"),
    ("reordered", "By train, from {a} to {b}: which is the cheapest way?"),
    ("synonym", "What's the least expensive rail option from {a} to {b}?"),
], [
    ("entity", "What's the fastest way to get from {a} to {b} by train?"),
    ("entity", "What's the cheapest way to get from {a} to {b} by bus?"),
], {"a": RAIL_CITIES, "b": RAIL_CITIES}, swap=("a", "b")))

add(S("travel", "travel.visa", "Do I need a visa to visit {country} with a {passport} passport?", [
    ("passive", "Is a visa required for a holiday in {country} if I travel on a {passport} passport?"),
    ("reworded", "Will I have to get a visa for a trip to {country} when my passport is {passport}?"),
    ("formality", "visa needed for {country}?? i have a {passport} passport"),
    ("reordered", "With a {passport} passport, do I need a visa to visit {country}?"),
], [
    ("scope", "Do I need a visa to work in {country} with a {passport} passport?"),
    ("scope", "Do I need a visa to transit through {country} with a {passport} passport?"),
], {"country": COUNTRIES, "passport": pool("entity", "US", "Indian", "Brazilian", "Nigerian", "Chinese",
                                                 "Australian", "Turkish", "Philippine")}))

add(S("travel", "travel.best_time", "What's the best time of year to visit {city}?", [
    ("synonym", "When is the ideal season for a trip to {city}?"),
    ("reordered", "{city}: which months are best for visiting?"),
    ("formality", "I'm wondering what the best time of the year would be to go to {city}."),
    ("reworded", "If I want good weather and fewer crowds in {city}, when should I go?"),
], [
    ("opposite", "What's the worst time of year to visit {city}?"),
    ("scope", "What's the best time of day to visit {city}'s main museum?"),
    ("entity", "What's the cheapest time of year to fly to {city}?"),
], {"city": CITIES}))

add(S("travel", "travel.distance", "How far is {a} from {b} in {u}?", [
    ("synonym", "What's the distance between {a} and {b} in {u}?"),
    ("reordered", "In {u}, how far apart are {a} and {b}?"),
    ("formality", "distance {a} to {b}, in {u} pls"),
], [
    ("entity", "How long is the drive from {a} to {b}, in hours?"),
], {"a": CITIES, "b": CITIES, "u": pool("unit", ["kilometers", "miles", "nautical miles"])},
    swap=("a", "b"), symmetric=True))

add(S("travel", "travel.carry_on", "Can I bring a {item} in my carry-on bag?", [
    ("synonym", "Is a {item} allowed in hand luggage?"),
    ("formality", "Am I permitted to take a {item} with me in my cabin bag on a flight?"),
    ("reordered", "In my carry-on, can I pack a {item}?"),
    ("passive", "Can a {item} be carried in cabin baggage?"),
], [
    ("entity", "Can I bring a {item} in my checked bag?"),
    ("negation", "Why can't I bring a {item} in my carry-on bag?"),
], {"item": pool("entity", "power bank", "razor", "bottle of wine", "laptop", "pair of scissors",
                 "umbrella", "camping stove", "tripod", "lighter", "jar of honey")}))

add(S("travel", "travel.cancel", "What's the refund if I cancel my hotel booking {n} days before check-in?", [
    ("reworded", "If I call off my hotel reservation {n} days ahead of check-in, how much money do I get back?"),
    ("passive", "How much is refunded when a hotel booking is cancelled {n} days before arrival?"),
    ("formality", "cancelling hotel {n} days before checkin, do i get refund?"),
], [
    ("opposite", "What's the refund if I cancel my hotel booking {n} days after check-in?"),
    ("entity", "What's the refund if I cancel my flight booking {n} days before departure?"),
], {"n": SMALL}))

add(S("travel", "travel.taxi_train", "Which is cheaper for getting from the airport to downtown {city}: a taxi or the train?", [
    ("reordered", "Which is cheaper for getting from the airport to downtown {city}: the train or a taxi?"),
    ("reworded", "To get into central {city} from the airport, does a cab or the train cost less?"),
    ("formality", "airport to {city} downtown, taxi or train, which costs less?"),
], [
    ("entity", "Which is faster for getting from the airport to downtown {city}: a taxi or the train?"),
    ("opposite", "Which is more expensive for getting from the airport to downtown {city}: a taxi or the train?"),
], {"city": CITIES}))

add(S("travel", "travel.missed_connection", "I missed my connecting flight in {city} because my first flight was delayed. Who pays for the hotel?", [
    ("reworded", "Who covers the hotel cost when a delayed first flight made me miss my connection in {city}?"),
    ("reordered", "Who pays for my hotel? My first flight was delayed, so I missed the connection in {city}."),
    ("passive", "My connection in {city} was missed because the first leg was delayed. Who is responsible for paying the hotel?"),
], [
    ("negation", "I missed my connecting flight in {city} even though my first flight was not delayed. Who pays for the hotel?"),
    ("entity", "I missed my connecting flight in {city} because my first flight was delayed. Who pays for the new ticket?"),
], {"city": CITIES}))

add(S("travel", "travel.tap_water", "Is it safe to drink tap water in {city}?", [
    ("reworded", "Can you drink the tap water in {city} without getting sick?"),
    ("reordered", "Tap water in {city}: is it safe to drink?"),
    ("formality", "Would it be advisable to drink the tap water while staying in {city}?"),
], [
    ("opposite", "Is it dangerous to drink tap water in {city}?"),
    ("entity", "Is it safe to swim in the sea near {city}?"),
    ("entity", "Is it safe to walk alone at night in {city}?"),
], {"city": CITIES}))

add(S("travel", "travel.layover", "Is a {n}-hour layover in {city} long enough to leave the airport?", [
    ("reworded", "With {n} hours between flights in {city}, can I go into town and get back in time?"),
    ("formality", "{n} hr layover in {city}, enough time to go outside the airport?"),
    ("passive", "Can the airport in {city} be left during a layover of {n} hours?"),
], [
    ("unit", "Is a {n}-day layover in {city} long enough to leave the airport?"),
    ("opposite", "Is a {n}-hour layover in {city} too short to make my connection?"),
], {"n": SMALL, "city": CITIES}))

# ---------------------------------------------------------------- cooking

add(S("cooking", "cooking.egg", "How long should I boil an egg for a runny yolk?", [
    ("reordered", "For a soft, runny yolk, how many minutes should an egg boil?"),
    ("reworded", "What's the boiling time for an egg if I want the yolk still liquid?"),
    ("formality", "how long do u boil eggs for runny yolks"),
    ("passive", "How long should an egg be boiled if the yolk is to stay runny?"),
], [
    ("opposite", "How long should I boil an egg for a firm yolk?"),
    ("entity", "How long should I poach an egg for a runny yolk?"),
    ("entity", "How long should I boil a quail egg for a runny yolk?"),
]))

add(S("cooking", "cooking.substitute", "Can I use {x} instead of {y} in a cake recipe?", [
    ("passive", "In a cake recipe, can {y} be replaced with {x}?"),
    ("reworded", "Is it OK to swap in {x} when a cake recipe calls for {y}?"),
    ("formality", "baking a cake and out of {y}, will {x} work instead?"),
], [
    ("entity", "Can I use {x} instead of {y} in a bread recipe?"),
], {"x": pool("entity", "butter", "oil", "honey", "sugar", "yogurt", "sour cream", "baking soda", "baking powder",
              "milk", "buttermilk", "applesauce", "maple syrup")}, swap=None))
SHORTS[-1].slots["y"] = SHORTS[-1].slots["x"]
SHORTS[-1].swap = ("x", "y")

add(S("cooking", "cooking.flour", "Convert {n} {u1} of flour to {u2}.", [
    ("reworded", "How many {u2} is {n} {u1} of flour?"),
    ("formality", "{n} {u1} of flour in {u2}, please?"),
    ("passive", "If {n} {u1} of flour is measured in {u2}, what does it come to?"),
], [
    ("entity", "Convert {n} {u1} of sugar to {u2}."),
    ("entity", "Convert {n} {u1} of butter to {u2}."),
], {"n": SMALL, "u1": pool("unit", ["cups", "grams", "ounces", "tablespoons"]),
    "u2": None}, swap=("u1", "u2")))
SHORTS[-1].slots["u2"] = SHORTS[-1].slots["u1"]

add(S("cooking", "cooking.roast_chicken", "What oven temperature should I roast a whole chicken at, in degrees {u}?", [
    ("reordered", "In degrees {u}, at what temperature do I roast a whole chicken?"),
    ("synonym", "How hot should the oven be, in {u}, for roasting an entire chicken?"),
    ("formality", "roasting a whole chicken, what temp in {u}?"),
], [
    ("entity", "What oven temperature should I roast a whole turkey at, in degrees {u}?"),
    ("scope", "What oven temperature should I roast chicken thighs at, in degrees {u}?"),
    ("entity", "What internal temperature should a whole chicken reach, in degrees {u}?"),
], {"u": pool("unit", ["Fahrenheit", "Celsius"])}))

add(S("cooking", "cooking.dough_rise", "How do I make my bread dough rise faster?", [
    ("reworded", "What can I do to speed up the rising of my bread dough?"),
    ("synonym", "Any tips to get bread dough to proof more quickly?"),
    ("passive", "How can the rise of bread dough be sped up?"),
    ("formality", "my bread dough takes forever to rise, how do i speed it up"),
], [
    ("opposite", "How do I make my bread dough rise more slowly?"),
    ("negation", "Why won't my bread dough rise at all?"),
    ("entity", "How do I make my bread crust crispier?"),
]))

add(S("cooking", "cooking.calories", "How many calories are in {n} {u} of {food}?", [
    ("reworded", "What is the calorie count of {n} {u} of {food}?"),
    ("reordered", "{n} {u} of {food}: how many calories is that?"),
    ("synonym", "How much energy, in kcal, does {n} {u} of {food} contain?"),
], [
    ("entity", "How much protein is in {n} {u} of {food}?"),
], {"n": MID, "u": pool("unit", ["grams", "ounces"]),
    "food": pool("entity", "cooked rice", "almonds", "cheddar cheese", "chicken breast", "oats", "salmon",
                 "dark chocolate", "lentils", "avocado")}))

add(S("cooking", "cooking.scale", "Scale this recipe from {a} servings to {b} servings: 2 cups rice, 3 cups water, 1 tsp salt.", [
    ("reworded", "This recipe serves {a}; adjust it so it serves {b}: 2 cups rice, 3 cups water, 1 tsp salt."),
    ("reordered", "2 cups rice, 3 cups water, 1 tsp salt: that's for {a} servings. What would it be for {b}?"),
    ("formality", "recipe for {a} ppl (2 cups rice, 3 cups water, 1 tsp salt), need it for {b}"),
], [
    ("entity", "Scale this recipe from {a} servings to {b} servings: 2 cups quinoa, 3 cups water, 1 tsp salt."),
], {"a": SMALL, "b": pool("number", "10", "12", "16", "20")}))

add(S("cooking", "cooking.refreeze", "Is it safe to refreeze chicken that was thawed in the fridge?", [
    ("passive", "Can chicken that has been defrosted in the refrigerator safely be frozen again?"),
    ("formality", "thawed chicken in the fridge, ok to put it back in the freezer?"),
    ("reordered", "Chicken thawed in the fridge: is refreezing it safe?"),
    ("synonym", "Is it OK to re-freeze poultry I defrosted in the refrigerator?"),
], [
    ("entity", "Is it safe to refreeze chicken that was thawed in the microwave?"),
    ("entity", "Is it safe to refreeze chicken that was thawed on the kitchen counter overnight?"),
    ("entity", "Is it safe to refreeze ice cream that has melted?"),
]))

add(S("cooking", "cooking.cookies_spread", "Why did my cookies spread so much in the oven?", [
    ("reworded", "What makes cookies flatten out too much while baking?"),
    ("formality", "my cookies came out super flat and spread everywhere, why??"),
    ("passive", "Why were my cookies flattened out so much by the time they came out of the oven?"),
], [
    ("negation", "Why didn't my cookies spread at all in the oven?"),
    ("entity", "Why did my cookies burn on the bottom in the oven?"),
]))

add(S("cooking", "cooking.rice_ratio", "What's the water to rice ratio for {rice} in a pot?", [
    ("reworded", "How much water do I need per cup of {rice} when cooking it on the stove?"),
    ("reordered", "For {rice} in a pot, what ratio of water to rice should I use?"),
    ("formality", "{rice} on the stove, how much water??"),
], [
    ("entity", "What's the water to rice ratio for {rice} in a rice cooker?"),
    ("entity", "How long should I cook {rice} in a pot?"),
], {"rice": pool("entity", "basmati rice", "jasmine rice", "brown rice", "sushi rice", "wild rice", "arborio rice")}))

add(S("cooking", "cooking.knife", "How do I sharpen a {knife} with a whetstone?", [
    ("reworded", "What's the right way to put an edge back on a {knife} using a whetstone?"),
    ("passive", "How should a {knife} be sharpened on a whetstone?"),
    ("formality", "whetstone sharpening for a {knife}: how?"),
], [
    ("entity", "How do I sharpen a {knife} with a honing rod?"),
    ("opposite", "How do I stop a {knife} from going blunt so fast?"),
], {"knife": pool("entity", "chef's knife", "serrated bread knife", "Japanese santoku", "paring knife", "cleaver")}))

# ---------------------------------------------------------------- health

DRUGS = pool("entity", "paracetamol", "aspirin", "amoxicillin", "lisinopril", "sertraline", "warfarin",
             "metformin", "omeprazole", "cetirizine", "prednisone")

add(S("health", "health.interaction", "Can I take ibuprofen and {drug} together?", [
    ("reordered", "Can I take {drug} and ibuprofen together?"),
    ("reworded", "Is it safe to combine ibuprofen with {drug}?"),
    ("formality", "ok to take ibuprofen w/ {drug} at the same time?"),
    ("passive", "Can ibuprofen be taken at the same time as {drug}?"),
], [
    ("scope", "Can I take ibuprofen and {drug} together every day for six months?"),
    ("entity", "Can I drink alcohol while taking {drug}?"),
], {"drug": DRUGS}))

add(S("health", "health.max_dose", "What is the maximum daily dose of {drug} for an adult?", [
    ("passive", "For an adult, how much {drug} can be taken per day at most?"),
    ("synonym", "What's the most {drug} a grown-up can safely have in 24 hours?"),
    ("formality", "max {drug} per day for adults?"),
], [
    ("opposite", "What is the minimum effective dose of {drug} for an adult?"),
    ("entity", "What is the maximum daily dose of {drug} for a six-year-old child?"),
], {"drug": pool("entity", "acetaminophen", "ibuprofen", "naproxen", "aspirin", "loratadine", "caffeine")}))

add(S("health", "health.sleep", "How many hours of sleep does a {age}-year-old need?", [
    ("reworded", "What's the recommended amount of sleep for someone who is {age}?"),
    ("formality", "how much sleep should a {age} year old get"),
    ("passive", "How much sleep is recommended for a person aged {age}?"),
], [
    ("unit", "How many hours of sleep does a {age}-month-old need?"),
    ("entity", "How many hours of screen time a day is OK for a {age}-year-old?"),
], {"age": pool("number", "3", "8", "15", "30", "70", "45", "12")}))

add(S("health", "health.symptoms", "What are the early symptoms of {disease}?", [
    ("synonym", "Which first signs point to {disease}?"),
    ("reordered", "{disease}: what symptoms show up first?"),
    ("formality", "Could you describe how {disease} typically presents in its initial stages?"),
], [
    ("scope", "What are the late-stage symptoms of {disease}?"),
    ("entity", "How is {disease} treated?"),
    ("entity", "What causes {disease}?"),
], {"disease": pool("entity", "type 2 diabetes", "Lyme disease", "hypothyroidism", "shingles", "appendicitis",
                    "Parkinson's disease", "celiac disease", "multiple sclerosis")}))

add(S("health", "health.coffee_bp", "Does drinking coffee raise blood pressure?", [
    ("synonym", "Is coffee known to increase blood pressure?"),
    ("reworded", "Can my blood pressure go up from drinking coffee?"),
    ("passive", "Is blood pressure raised by drinking coffee?"),
    ("formality", "does coffee make ur blood pressure higher"),
], [
    ("opposite", "Does drinking coffee lower blood pressure?"),
    ("entity", "Does drinking green tea raise blood pressure?"),
    ("entity", "Does drinking coffee raise cholesterol?"),
]))

add(S("health", "health.fever", "I have a fever of {t} degrees {u}. Should I see a doctor?", [
    ("reworded", "My temperature is {t} degrees {u}; do I need to get medical help?"),
    ("reordered", "Should I go to a doctor? I have a {t} degree {u} fever."),
    ("formality", "fever {t} {u}, doctor or not?"),
], [
    ("entity", "My baby has a fever of {t} degrees {u}. Should I see a doctor?"),
], {"t": pool("fixed", ["38.5", "39.4", "40.1"]), "u": pool("unit", ["Celsius", "Fahrenheit"])}))

add(S("health", "health.exercise", "How many minutes of moderate exercise per week does an adult need?", [
    ("reworded", "What's the recommended weekly amount of moderate physical activity for adults, in minutes?"),
    ("formality", "adults: how many min a week of moderate exercise?"),
    ("passive", "How many minutes of moderate exercise a week are recommended for an adult?"),
], [
    ("scope", "How many minutes of moderate exercise per day does an adult need?"),
    ("entity", "How many minutes of vigorous exercise per week does an adult need?"),
    ("entity", "How many minutes of moderate exercise per week does a teenager need?"),
]))

add(S("health", "health.ice_heat", "Should I use ice or heat on a sprained ankle in the first {n} hours?", [
    ("reordered", "Should I use heat or ice on a sprained ankle in the first {n} hours?"),
    ("reworded", "For the first {n} hours after spraining my ankle, is a cold pack or a heating pad better?"),
    ("formality", "sprained my ankle, ice or heat for the first {n} hrs?"),
], [
    ("scope", "Should I use ice or heat on a sprained ankle after the first {n} weeks?"),
    ("entity", "Should I use ice or heat on a stiff neck in the first {n} hours?"),
], {"n": pool("fixed", ["24", "48", "72"])}))

add(S("health", "health.crawl", "Is it normal for a {n}-month-old baby not to crawl yet?", [
    ("reordered", "My baby is {n} months old and isn't crawling. Is that normal?"),
    ("reworded", "Should I worry that my {n}-month-old still doesn't crawl?"),
    ("formality", "{n} month old not crawling yet, normal??"),
], [
    ("negation", "Is it normal for a {n}-month-old baby to crawl already?"),
    ("entity", "Is it normal for a {n}-month-old baby not to talk yet?"),
], {"n": pool("number", "6", "8", "10", "12", "14")}))

add(S("health", "health.vitd_time", "Is it better to take vitamin D in the morning or at night?", [
    ("reordered", "Is it better to take vitamin D at night or in the morning?"),
    ("reworded", "What time of day should I take my vitamin D supplement?"),
    ("formality", "vitamin D, morning or evening, does it matter?"),
], [
    ("entity", "Is it better to take magnesium in the morning or at night?"),
    ("entity", "Is it better to take vitamin D with or without food?"),
]))

add(S("health", "health.bmi", "What's my BMI if I weigh {w} {wu} and I'm {h} cm tall?", [
    ("reordered", "I'm {h} cm tall and weigh {w} {wu}. What's my BMI?"),
    ("reworded", "Calculate the body mass index of a person who is {h} cm tall and weighs {w} {wu}."),
    ("formality", "bmi for {h}cm, {w} {wu}?"),
], [
    ("entity", "What's my ideal weight if I weigh {w} {wu} and I'm {h} cm tall?"),
], {"w": pool("number", "58", "64", "72", "85", "96"), "wu": pool("unit", ["kg", "pounds"]),
    "h": pool("number", "158", "165", "172", "181", "190")}))

# ---------------------------------------------------------------- finance / accounting

add(S("finance", "finance.fx", "Convert {n} {c1} to {c2}.", [
    ("reworded", "How much is {n} {c1} in {c2}?"),
    ("synonym", "What do {n} {c1} come to in {c2}?"),
    ("formality", "{n} {c1} -> {c2}?"),
    ("passive", "If {n} {c1} are exchanged into {c2}, how much do I get?"),
], [], {"n": BIG, "c1": CURRENCIES, "c2": CURRENCIES}, swap=("c1", "c2")))

add(S("finance", "finance.roth", "Is a Roth IRA better than a traditional IRA if I expect higher taxes in retirement?", [
    ("reworded", "If I think my tax rate will go up by the time I retire, should I pick a Roth IRA over a traditional one?"),
    ("reordered", "If I expect higher taxes in retirement, is a Roth IRA better than a traditional IRA?"),
    ("formality", "roth vs traditional ira if taxes will be higher when i retire?"),
], [
    ("opposite", "Is a Roth IRA better than a traditional IRA if I expect lower taxes in retirement?"),
    ("direction", "Is a traditional IRA better than a Roth IRA if I expect higher taxes in retirement?"),
    ("entity", "Is a Roth 401(k) better than a Roth IRA if I expect higher taxes in retirement?"),
]))

add(S("finance", "finance.refund_entry", "What journal entry do I make when I refund a customer for a returned product?", [
    ("passive", "How should a customer refund for a returned item be recorded in the books?"),
    ("reworded", "A customer sent a product back and I gave them their money back. How do I book that?"),
    ("formality", "journal entry for customer refund (returned goods)?"),
], [
    ("direction", "What journal entry do I make when a supplier refunds me for a product I returned?"),
    ("entity", "What journal entry do I make when I give a customer a discount on an unpaid invoice?"),
    ("negation", "What journal entry do I make when I refund a customer who did not return the product?"),
]))

add(S("finance", "finance.compound", "If I invest ${p} at {r}% annual interest compounded monthly, how much will I have after {y} years?", [
    ("reworded", "What will ${p} grow to after {y} years at {r}% a year, compounded monthly?"),
    ("passive", "With monthly compounding at {r}% per year, what is an investment of ${p} worth after {y} years?"),
    ("formality", "${p}, {r}% apr, monthly compounding, {y} yrs: final amount?"),
], [
    ("scope", "If I invest ${p} at {r}% annual interest compounded annually, how much will I have after {y} years?"),
    ("entity", "If I invest ${p} at {r}% annual simple interest, how much will I have after {y} years?"),
], {"p": BIG, "r": SMALL, "y": MID}))

add(S("finance", "finance.debit_credit", "What's the difference between a debit and a credit in double-entry bookkeeping?", [
    ("reordered", "In double-entry bookkeeping, what's the difference between a credit and a debit?"),
    ("reworded", "How do debits differ from credits in double-entry accounting?"),
    ("formality", "debits vs credits in bookkeeping, eli5?"),
], [
    ("entity", "What's the difference between a debit card and a credit card?"),
    ("entity", "What's the difference between a journal and a ledger in double-entry bookkeeping?"),
]))

add(S("finance", "finance.home_office", "Can I deduct home office expenses if I'm a W-2 employee in the US?", [
    ("reworded", "As a US employee paid on a W-2, am I allowed to write off my home office costs?"),
    ("passive", "Can home office expenses be deducted by a W-2 employee in the US?"),
    ("formality", "w2 employee, home office deduction, allowed or not?"),
], [
    ("entity", "Can I deduct home office expenses if I'm self-employed in the US?"),
    ("entity", "Can I deduct my commuting costs if I'm a W-2 employee in the US?"),
]))

add(S("finance", "finance.pay_debt", "Should I pay off my {r}% credit card debt before investing?", [
    ("reworded", "Does it make sense to clear a credit card balance at {r}% before I start investing?"),
    ("formality", "{r}% credit card debt: pay it off first or invest?"),
    ("passive", "Should a {r}% credit card balance be paid off before money is invested?"),
], [
    ("direction", "Should I start investing before paying off my {r}% credit card debt?"),
    ("entity", "Should I pay off my {r}% mortgage before investing?"),
], {"r": pool("number", "6", "9", "14", "19", "24", "29")}))

add(S("finance", "finance.growth", "Our revenue went from ${a} million to ${b} million. What's the growth rate?", [
    ("reworded", "What is the percentage growth if revenue rose from ${a}M to ${b}M?"),
    ("passive", "Revenue was increased from ${a} million to ${b} million. By what percentage did it grow?"),
    ("formality", "rev ${a}m -> ${b}m, growth %?"),
], [
    ("entity", "Our profit went from ${a} million to ${b} million. What's the profit margin?"),
], {"a": MID, "b": pool("number", "96", "110", "150", "200")}, swap=("a", "b")))

add(S("finance", "finance.capital_gains", "How are short-term capital gains taxed in the US?", [
    ("reworded", "In the US, what tax applies to gains on assets held for a year or less?"),
    ("passive", "What's the US tax treatment of short-term capital gains?"),
    ("formality", "short term cap gains tax in the US, how does it work?"),
], [
    ("opposite", "How are long-term capital gains taxed in the US?"),
    ("opposite", "How are short-term capital losses treated for US taxes?"),
    ("entity", "How are short-term capital gains taxed in Canada?"),
]))

add(S("finance", "finance.loan_roles", "{a} lent {b} ${n}. How should {b} record the loan in their books?", [
    ("passive", "${n} was lent to {b} by {a}. What's the right way for {b} to book the loan?"),
    ("reworded", "{b} borrowed ${n} from {a}. How does {b} enter this loan in the accounts?"),
    ("formality", "{a} gave {b} a ${n} loan, how does {b} record it?"),
], [
    ("entity", "{a} gave {b} ${n} as a gift. How should {b} record it in their books?"),
    ("direction", "{b} lent {a} ${n}. How should {b} record the loan in their books?"),
    ("direction", "{a} borrowed ${n} from {b}. How should {b} record the loan in their books?"),
], {"a": PEOPLE, "b": PEOPLE, "n": BIG}))

add(S("finance", "finance.vat", "How much VAT is included in a price of {n} euros at a {r}% VAT rate?", [
    ("reworded", "If something costs {n} euros including {r}% VAT, how much of that is VAT?"),
    ("reordered", "At a {r}% VAT rate, how much VAT is there in a {n}-euro price?"),
    ("formality", "{n} eur incl. {r}% vat, vat amount?"),
], [
    ("entity", "How much VAT do I add to a price of {n} euros at a {r}% VAT rate?"),
], {"n": BIG, "r": pool("number", "7", "10", "19", "20", "21", "23")}))

add(S("finance", "finance.depreciation", "How do I calculate straight-line depreciation for a ${c} machine with a {y}-year life?", [
    ("reworded", "What is the yearly straight-line depreciation of a ${c} machine that lasts {y} years?"),
    ("passive", "How is straight-line depreciation worked out for a ${c} machine with a useful life of {y} years?"),
], [
    ("entity", "How do I calculate double-declining depreciation for a ${c} machine with a {y}-year life?"),
    ("unit", "How do I calculate straight-line depreciation for a ${c} machine with a {y}-month life?"),
], {"c": BIG, "y": SMALL}))

# ---------------------------------------------------------------- customer support

add(S("support", "support.reset_pw", "How do I reset my password if I no longer have access to my email?", [
    ("reordered", "I can't get into my email anymore. How do I reset my password?"),
    ("reworded", "My email account is gone, so how can I get a new password for my account?"),
    ("passive", "How can my password be reset when I've lost access to my email address?"),
    ("formality", "lost access to my email, how do i reset my pw??"),
], [
    ("opposite", "How do I reset my password if I still have access to my email?"),
    ("entity", "How do I reset my PIN if I no longer have access to my email?"),
    ("entity", "How do I change my email address if I no longer have access to it?"),
]))

add(S("support", "support.ship_addr", "How do I change the shipping address on order {order}?", [
    ("reworded", "Can I update where order {order} is being delivered?"),
    ("formality", "order {order}: need to change the delivery address, how?"),
    ("passive", "How can the shipping address of order {order} be changed?"),
], [
    ("entity", "How do I change the billing address on order {order}?"),
    ("entity", "How do I cancel order {order}?"),
], {"order": ORDERS}))

add(S("support", "support.double_charge", "Why was I charged twice for my {plan} subscription this month?", [
    ("reworded", "My {plan} subscription shows two charges this month. Why?"),
    ("passive", "Why has my card been billed twice this month for the {plan} subscription?"),
    ("formality", "got double charged for {plan} this month?? why"),
], [
    ("scope", "Why was I charged twice for my {plan} subscription this year?"),
    ("number", "Why was I charged three times for my {plan} subscription this month?"),
    ("negation", "Why wasn't I charged for my {plan} subscription this month?"),
], {"plan": pool("entity", "Pro", "Team", "Premium", "Family", "Business", "Starter")}))

add(S("support", "support.cancel_keep", "How do I cancel my subscription without losing my saved projects?", [
    ("reworded", "Can I end my subscription but keep my saved projects?"),
    ("reordered", "Without losing my saved projects, how do I cancel my subscription?"),
    ("passive", "How can my subscription be cancelled so that my saved projects are kept?"),
], [
    ("opposite", "How do I cancel my subscription and delete all my saved projects?"),
    ("entity", "How do I pause my subscription without losing my saved projects?"),
]))

add(S("support", "support.switch_plan", "Can I switch from the {p1} plan to the {p2} plan in the middle of a billing cycle?", [
    ("reworded", "Is it possible to move from {p1} to {p2} partway through my billing period?"),
    ("formality", "mid-cycle change from {p1} to {p2}, possible?"),
    ("passive", "Can my plan be changed from {p1} to {p2} before the billing cycle ends?"),
], [
    ("scope", "Can I switch from the {p1} plan to the {p2} plan at the end of a billing cycle?"),
], {"p1": pool("entity", "Basic", "Standard", "Pro", "Enterprise", "Free", "Team"), "p2": None}, swap=("p1", "p2")))
SHORTS[-1].slots["p2"] = SHORTS[-1].slots["p1"]

add(S("support", "support.wifi", "My {device} won't connect to Wi-Fi since the last update. How do I fix it?", [
    ("reworded", "Since the latest update my {device} can't join any Wi-Fi network. What should I do?"),
    ("formality", "{device} no wifi after update, help"),
    ("reordered", "How do I fix my {device}? It hasn't connected to Wi-Fi since the last update."),
], [
    ("entity", "My {device} won't connect to Bluetooth since the last update. How do I fix it?"),
    ("negation", "My {device} won't install the last update over Wi-Fi. How do I fix it?"),
], {"device": pool("entity", "printer", "smart TV", "laptop", "thermostat", "doorbell camera", "e-reader")}))

add(S("support", "support.ship_to", "Do you ship to {country}?", [
    ("passive", "Is delivery to {country} available?"),
    ("reworded", "Can I get my order sent to an address in {country}?"),
    ("formality", "hi do u deliver to {country}"),
], [
    ("direction", "Do you ship from {country}?"),
    ("negation", "Why don't you ship to {country}?"),
    ("entity", "How much does shipping to {country} cost?"),
], {"country": COUNTRIES}))

add(S("support", "support.refund_time", "How long does a refund take to show up on my credit card?", [
    ("reworded", "After you issue a refund, how many days until I see it on my credit card?"),
    ("passive", "How long does it take for a refund to be credited to my credit card?"),
    ("formality", "refund to credit card, how long??"),
], [
    ("entity", "How long does a refund take to show up in my PayPal account?"),
    ("entity", "How long does a replacement take to arrive?"),
]))

add(S("support", "support.transfer_owner", "How do I transfer ownership of our workspace from {a} to {b}?", [
    ("reworded", "We need {b} to become the owner of the workspace instead of {a}. How do we do that?"),
    ("passive", "How can ownership of the workspace be moved from {a} to {b}?"),
    ("formality", "make {b} the workspace owner instead of {a}, how"),
], [
    ("entity", "How do I remove {b} from our workspace?"),
], {"a": PEOPLE, "b": PEOPLE}, swap=("a", "b")))

add(S("support", "support.promised_discount", "I was promised a {p}% discount but was charged full price. Can you fix it?", [
    ("reworded", "Your agent said I'd get {p}% off, yet I paid the full amount. Please correct it."),
    ("passive", "A {p}% discount was promised to me, but the full price was charged. Can this be fixed?"),
    ("formality", "was told {p}% off but got charged full price?? pls fix"),
], [
    ("entity", "I was promised a {p}% discount but it was applied to the wrong order. Can you fix it?"),
], {"p": PERCENT}))

add(S("support", "support.2fa", "I lost my phone and can't log in with two-factor authentication. What do I do?", [
    ("reworded", "My phone is gone, so I can't get my 2FA codes to sign in. How do I get back into my account?"),
    ("formality", "lost phone, cant do 2fa login, help!!"),
    ("reordered", "What do I do? I can't log in with two-factor authentication because I lost my phone."),
], [
    ("entity", "I lost my phone. How do I turn on two-factor authentication on my new one?"),
    ("negation", "I didn't lose my phone but the two-factor codes are always rejected. What do I do?"),
]))

# ---------------------------------------------------------------- legal / HR

add(S("legal_hr", "legal.vacation", "How many days of paid vacation am I entitled to per year in {country}?", [
    ("reworded", "What's the legal minimum of paid annual leave in {country}?"),
    ("passive", "How much paid holiday per year is an employee given by law in {country}?"),
    ("formality", "paid vacation days per year in {country}, legal minimum?"),
], [
    ("opposite", "How many days of unpaid leave am I entitled to per year in {country}?"),
    ("entity", "How many days of paid sick leave am I entitled to per year in {country}?"),
], {"country": COUNTRIES}))

add(S("legal_hr", "legal.fire_overtime", "Can my employer fire me for refusing to work overtime?", [
    ("reworded", "Is it legal for my boss to dismiss me because I said no to overtime?"),
    ("passive", "Can I be fired by my employer for refusing overtime work?"),
    ("formality", "can i get fired for saying no to overtime"),
], [
    ("entity", "Can my employer fire me for refusing to work on a public holiday?"),
    ("entity", "Can my employer refuse to pay me for the overtime I worked?"),
]))

add(S("legal_hr", "legal.notice_resign", "How much notice does an employee have to give before resigning in {country}?", [
    ("reworded", "What's the required notice period for an employee who quits in {country}?"),
    ("formality", "quitting my job in {country}, how much notice do i need to give?"),
    ("passive", "How much notice must be given by an employee who resigns in {country}?"),
], [
    ("direction", "How much notice does an employer have to give before dismissing an employee in {country}?"),
    ("scope", "How much notice does an employee have to give before resigning during probation in {country}?"),
], {"country": COUNTRIES}))

add(S("legal_hr", "legal.guarantor", "{a} signed the lease and {b} is only the guarantor. If {a} stops paying the rent, does {b} have to pay it?", [
    ("reworded", "The tenant on the lease is {a}; {b} just guaranteed it. If {a} misses rent payments, is {b} liable for them?"),
    ("passive", "If the rent stops being paid by {a}, who signed the lease, must it be paid by {b}, the guarantor?"),
    ("formality", "{a} = tenant, {b} = guarantor, {a} stopped paying rent. does {b} have to cover it?"),
], [
    ("direction", "{b} signed the lease and {a} is only the guarantor. If {a} stops paying the rent, does {b} have to pay it?"),
    ("negation", "{a} signed the lease and {b} is not a guarantor. If {a} stops paying the rent, does {b} have to pay it?"),
], {"a": PEOPLE, "b": PEOPLE}))

add(S("legal_hr", "legal.verbal", "Is a verbal agreement legally binding in {country}?", [
    ("reworded", "In {country}, does a spoken contract hold up legally?"),
    ("formality", "verbal contract in {country}, does it count legally?"),
    ("passive", "Is an oral agreement recognized as binding by the law in {country}?"),
], [
    ("entity", "Is an email agreement legally binding in {country}?"),
    ("entity", "Is a verbal agreement to sell a house legally binding in {country}?"),
], {"country": COUNTRIES}))

add(S("legal_hr", "legal.payroll_records", "How long does a US employer have to keep payroll records?", [
    ("reworded", "For how many years must US employers retain their payroll records?"),
    ("passive", "How long must payroll records be kept by an employer in the US?"),
    ("formality", "US payroll records retention, how many years?"),
], [
    ("entity", "How long does a US employer have to keep job applications from rejected candidates?"),
    ("scope", "How long does a US employer have to keep the payroll records of employees who left?"),
    ("entity", "How long does a US employer have to keep payroll records in California?"),
]))

add(S("legal_hr", "legal.noncompete", "Does my non-compete still apply if I was laid off rather than quitting?", [
    ("reworded", "If the company let me go and I didn't resign, is the non-compete clause still enforceable?"),
    ("passive", "Is a non-compete still binding when the employee was laid off instead of resigning?"),
    ("formality", "got laid off (didnt quit), does my noncompete still count?"),
], [
    ("direction", "Does my non-compete still apply if I quit rather than being laid off?"),
    ("entity", "Does my non-disclosure agreement still apply if I was laid off rather than quitting?"),
]))

add(S("legal_hr", "legal.probation", "What is the maximum probation period allowed in {country}?", [
    ("reworded", "How long can an employer's trial period for new hires last at most in {country}?"),
    ("formality", "max probation period in {country}?"),
    ("passive", "What's the longest probation period that is allowed by law in {country}?"),
], [
    ("opposite", "What is the minimum probation period allowed in {country}?"),
    ("entity", "What is the maximum notice period allowed during probation in {country}?"),
], {"country": COUNTRIES}))

add(S("legal_hr", "legal.record_call", "Can I record a phone call with my manager without telling them in {state}?", [
    ("reworded", "In {state}, is it legal to secretly record a call with my boss?"),
    ("passive", "Can a phone call with my manager be recorded in {state} without their knowledge?"),
    ("formality", "{state}: ok to record call w/ manager without telling him?"),
], [
    ("opposite", "Can I record a phone call with my manager after telling them in {state}?"),
    ("entity", "Can I record a meeting with my manager without telling them in {state}?"),
], {"state": pool("entity", "California", "New York", "Texas", "Florida", "Illinois", "Washington state",
                  "Pennsylvania", "Massachusetts")}))

add(S("legal_hr", "legal.harassment_report", "How do I report harassment by my manager to HR without being identified?", [
    ("reworded", "Is there a way to tell HR that my manager harasses me and stay anonymous?"),
    ("passive", "How can harassment by a manager be reported to HR anonymously?"),
    ("formality", "need to report my manager to HR for harassment but anonymously, how?"),
], [
    ("direction", "How do I report harassment by an HR employee to my manager without being identified?"),
    ("negation", "How do I report harassment by my manager to HR under my own name?"),
]))

add(S("legal_hr", "legal.parental", "How many weeks of paid parental leave does {company} offer to {who}?", [
    ("reworded", "What's the paid parental leave at {company} for {who}, in weeks?"),
    ("formality", "{company} parental leave for {who}, how many weeks paid?"),
    ("passive", "How many weeks of paid parental leave are given by {company} to {who}?"),
], [
    ("entity", "How many weeks of unpaid parental leave does {company} offer to {who}?"),
], {"company": pool("entity", "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics"),
    "who": pool("entity", "birth mothers", "fathers", "adoptive parents", "part-time employees")}))

# ---------------------------------------------------------------- science

add(S("science", "science.sky", "Why is the sky blue?", [
    ("reworded", "What makes the sky look blue?"),
    ("synonym", "How come the daytime sky appears blue?"),
    ("formality", "whys the sky blue"),
    ("passive", "Why is the sky seen as blue during the day?"),
], [
    ("entity", "Why is the sea blue?"),
    ("entity", "Why is the sky on Mars pinkish during the day?"),
    ("scope", "Why is the sky red at sunset?"),
]))

add(S("science", "science.boiling_altitude", "What happens to the boiling point of water at higher altitudes?", [
    ("reworded", "How does going up in altitude change the temperature at which water boils?"),
    ("formality", "boiling point of water up in the mountains, higher or lower?"),
    ("passive", "How is the boiling point of water affected by higher altitude?"),
], [
    ("opposite", "What happens to the boiling point of water below sea level?"),
    ("entity", "What happens to the freezing point of water at higher altitudes?"),
    ("entity", "What happens to the boiling point of water when you add salt?"),
]))

add(S("science", "science.heat_flow", "Can heat flow on its own from a cold object to a hot object?", [
    ("reworded", "Is it possible for heat to move spontaneously from a colder body to a hotter one?"),
    ("passive", "Can heat be transferred from a cold object to a hot one without any work being done?"),
    ("formality", "does heat ever go from cold stuff to hot stuff by itself?"),
], [
    ("direction", "Can heat flow on its own from a hot object to a cold object?"),
    ("negation", "Can heat flow from a cold object to a hot object if work is done, as in a fridge?"),
]))

add(S("science", "science.light_time", "How long does light take to travel from the Sun to {planet}?", [
    ("reordered", "How long does light take to travel from {planet} to the Sun?"),
    ("reworded", "How many minutes does sunlight need to reach {planet}?"),
    ("formality", "light travel time sun to {planet}?"),
], [
    ("entity", "How long would a spacecraft take to travel from the Sun to {planet}?"),
], {"planet": pool("entity", "Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Neptune")}))

add(S("science", "science.half_life", "What is the half-life of {iso}?", [
    ("reworded", "How long does it take for half of a sample of {iso} to decay?"),
    ("formality", "half life of {iso}?"),
    ("passive", "After how long is half of a quantity of {iso} decayed?"),
], [
    ("entity", "What does {iso} decay into?"),
    ("entity", "How is {iso} produced?"),
], {"iso": pool("entity", "carbon-14", "uranium-238", "iodine-131", "cesium-137", "plutonium-239", "tritium",
                "radon-222", "cobalt-60")}))

add(S("science", "science.ph", "What's the pH of a solution with a hydrogen ion concentration of {c} mol/L?", [
    ("reworded", "If [H+] is {c} mol/L, what is the pH?"),
    ("passive", "What pH is given by a hydrogen ion concentration of {c} moles per liter?"),
    ("formality", "pH when H+ conc = {c} M?"),
], [
    ("entity", "What's the pH of a solution with a hydroxide ion concentration of {c} mol/L?"),
    ("unit", "What's the pH of a solution with a hydrogen ion concentration of {c} mmol/L?"),
], {"c": pool("fixed", ["1e-3", "1e-5", "2.5e-4", "1e-9", "3e-7"])}))

add(S("science", "science.photosynthesis", "Do plants take in oxygen and give off carbon dioxide during photosynthesis?", [
    ("reworded", "Is it true that photosynthesis makes plants absorb oxygen and release carbon dioxide?"),
    ("passive", "During photosynthesis, is oxygen taken in and carbon dioxide given off by plants?"),
    ("formality", "photosynthesis: plants take in O2, give out CO2, right?"),
], [
    ("direction", "Do plants take in carbon dioxide and give off oxygen during photosynthesis?"),
    ("entity", "Do plants take in oxygen and give off carbon dioxide during respiration?"),
]))

add(S("science", "science.electrons", "How many electrons does a neutral {atom} atom have?", [
    ("reworded", "What's the electron count of an uncharged {atom} atom?"),
    ("formality", "electrons in a neutral {atom} atom?"),
    ("passive", "How many electrons are found in a neutral atom of {atom}?"),
], [
    ("scope", "How many valence electrons does a neutral {atom} atom have?"),
    ("entity", "How many neutrons does a neutral {atom} atom have?"),
], {"atom": pool("entity", "carbon", "oxygen", "iron", "sodium", "chlorine", "neon", "silicon", "copper")}))

add(S("science", "science.heavier", "Is {a} more massive than {b}?", [
    ("reordered", "Is {b} less massive than {a}?"),
    ("reworded", "Does {a} have a greater mass than {b}?"),
    ("formality", "{a} vs {b}, is {a} heavier?"),
], [
    ("entity", "Is {a} bigger in diameter than {b}?"),
], {"a": pool("entity", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "the Moon"), "b": None},
    swap=("a", "b")))
SHORTS[-1].slots["b"] = SHORTS[-1].slots["a"]

add(S("science", "science.ice_float", "Why does ice float on water?", [
    ("reworded", "What makes frozen water stay on top of liquid water?"),
    ("formality", "how come ice floats"),
    ("passive", "Why is ice held up at the surface of water instead of sinking?"),
], [
    ("entity", "Why does ice float on water but frozen olive oil sinks in olive oil?"),
    ("negation", "Why doesn't ice sink in water when it gets very cold?"),
    ("entity", "Why does ice melt faster in salt water?"),
]))

add(S("science", "science.speed_of_sound", "How fast does sound travel in {medium} at room temperature?", [
    ("reworded", "What's the speed of sound through {medium} at about 20 degrees Celsius?"),
    ("formality", "speed of sound in {medium}, room temp?"),
], [
    ("entity", "How fast does light travel in {medium} at room temperature?"),
    ("scope", "How fast does sound travel in {medium} at 100 degrees Celsius?"),
], {"medium": pool("entity", "air", "water", "steel", "helium", "glass", "wood")}))

# ---------------------------------------------------------------- geography / history

add(S("geo_history", "geo.capital", "What is the capital of {country}?", [
    ("reworded", "Which city is {country}'s capital?"),
    ("reordered", "{country}'s capital city is what?"),
    ("formality", "capital of {country}?"),
    ("passive", "Which city has been made the capital of {country}?"),
], [
    ("entity", "What is the largest city in {country}?"),
    ("entity", "What is the official language of {country}?"),
], {"country": COUNTRIES}))

add(S("geo_history", "geo.first", "Which happened first, {e1} or {e2}?", [
    ("reordered", "Which happened first, {e2} or {e1}?"),
    ("reworded", "Did {e1} come before {e2}, or the other way round?"),
    ("formality", "{e1} vs {e2}: which was earlier?"),
], [
    ("opposite", "Which happened last, {e1} or {e2}?"),
    ("entity", "How many years passed between {e1} and {e2}?"),
], {"e1": pool("entity", "the fall of the Berlin Wall", "the first Moon landing", "the French Revolution",
               "the signing of the Magna Carta", "the invention of the printing press",
               "the American Declaration of Independence", "the end of the Roman Republic",
               "the founding of the United Nations", "the Battle of Waterloo"), "e2": None},
    swap=("e1", "e2"), symmetric=True))
SHORTS[-1].slots["e2"] = SHORTS[-1].slots["e1"]

add(S("geo_history", "geo.north", "Is {a} further north than {b}?", [
    ("reordered", "Is {b} further south than {a}?"),
    ("reworded", "Does {a} lie at a higher latitude than {b}?"),
    ("formality", "{a} north of {b}? yes or no"),
], [
    ("opposite", "Is {a} further south than {b}?"),
    ("entity", "Is {a} further east than {b}?"),
], {"a": CITIES, "b": CITIES}, swap=("a", "b")))

add(S("geo_history", "geo.population", "What was the population of {city} in {year}?", [
    ("reworded", "How many people lived in {city} in {year}?"),
    ("reordered", "In {year}, what was {city}'s population?"),
    ("formality", "{city} population {year}?"),
], [
    ("entity", "What was the area of {city} in {year}?"),
], {"city": CITIES, "year": pool("number", "1900", "1950", "1975", "2000", "2010")}))

add(S("geo_history", "geo.rome_fall", "Why did the Western Roman Empire fall?", [
    ("reworded", "What caused the collapse of the Western Roman Empire?"),
    ("passive", "Why was the Western Roman Empire brought down?"),
    ("formality", "why did western rome fall, short version"),
], [
    ("entity", "Why did the Byzantine Empire fall?"),
    ("opposite", "Why did the Western Roman Empire last so long?"),
    ("entity", "When did the Western Roman Empire fall?"),
]))

add(S("geo_history", "geo.longer_river", "Which river is longer, the {r1} or the {r2}?", [
    ("reordered", "Which river is longer, the {r2} or the {r1}?"),
    ("reworded", "Between the {r1} and the {r2}, which one has the greater length?"),
    ("formality", "{r1} or {r2}, which is longer?"),
], [
    ("opposite", "Which river is shorter, the {r1} or the {r2}?"),
    ("entity", "Which river carries more water, the {r1} or the {r2}?"),
], {"r1": pool("entity", "Nile", "Amazon", "Yangtze", "Mississippi", "Danube", "Rhine", "Volga", "Mekong",
               "Congo", "Ganges"), "r2": None}, swap=("r1", "r2"), symmetric=True))
SHORTS[-1].slots["r2"] = SHORTS[-1].slots["r1"]

add(S("geo_history", "geo.timezone", "What time zone is {city} in?", [
    ("reworded", "Which time zone does {city} use?"),
    ("formality", "{city} timezone?"),
    ("passive", "What time zone is observed in {city}?"),
], [
    ("entity", "What is the current local time in {city}?"),
    ("entity", "What area code is {city} in?"),
], {"city": CITIES}))

add(S("geo_history", "geo.ww1_causes", "What were the main causes of World War I?", [
    ("reworded", "Why did the First World War start?"),
    ("synonym", "What were the chief causes of the Great War of 1914 to 1918?"),
    ("formality", "main causes of ww1?"),
    ("passive", "By what was World War I mainly caused?"),
], [
    ("number", "What were the main causes of World War II?"),
    ("opposite", "What were the main consequences of World War I?"),
    ("entity", "What were the main battles of World War I?"),
]))

add(S("geo_history", "geo.border", "Which countries border {country}?", [
    ("reworded", "What are {country}'s neighbouring countries?"),
    ("passive", "Which countries share a land border with {country}?"),
    ("formality", "countries next to {country}?"),
], [
    ("negation", "Which countries in Europe don't border {country}?"),
    ("entity", "Which seas border {country}?"),
], {"country": pool("entity", "Germany", "France", "Austria", "Poland", "Hungary", "Switzerland", "Belgium", "Spain")}))

add(S("geo_history", "geo.leader_year", "Who was the leader of {country} in {year}?", [
    ("reworded", "Who led {country} in {year}?"),
    ("reordered", "In {year}, who was in charge of {country}?"),
    ("formality", "{country} leader {year}?"),
], [
    ("entity", "What was the capital of {country} in {year}?"),
], {"country": pool("entity", "the Soviet Union", "West Germany", "France", "the United Kingdom", "Japan", "India"),
    "year": pool("number", "1950", "1962", "1975", "1983", "1989")}))

# ---------------------------------------------------------------- shopping / orders

add(S("shopping", "shop.late", "Where is my order {order}? It was supposed to arrive {when}.", [
    ("reworded", "Order {order} should have been here {when}. Can you tell me where it is?"),
    ("formality", "order {order} was due {when} and still nothing, where is it??"),
    ("passive", "My order {order} was expected to be delivered {when}. Where is it now?"),
], [
    ("entity", "Can I cancel order {order}? It was supposed to arrive {when}."),
], {"order": ORDERS, "when": pool("fixed", ["yesterday", "on Monday", "last week", "two days ago"])}))

add(S("shopping", "shop.return_opened", "Can I return {item} after {n} days if I've already opened it?", [
    ("reworded", "I opened {item} {n} days ago. Is it still returnable?"),
    ("passive", "Can {item} be returned {n} days after purchase once it has been opened?"),
    ("formality", "opened {item}, {n} days later, can i still send it back?"),
], [
    ("negation", "Can I return {item} after {n} days if I haven't opened it?"),
    ("entity", "Can I exchange {item} after {n} days if I've already opened it?"),
], {"item": pool("entity", "a blender", "headphones", "a mattress", "a video game", "running shoes", "a phone case"),
    "n": pool("number", "10", "14", "20", "30", "45")}))

add(S("shopping", "shop.cheaper", "Is the {p1} cheaper than the {p2} right now?", [
    ("reordered", "Is the {p2} more expensive than the {p1} right now?"),
    ("reworded", "At the moment, does the {p1} cost less than the {p2}?"),
    ("formality", "{p1} vs {p2}, which is cheaper rn? is it the {p1}?"),
], [
    ("entity", "Is the {p1} lighter than the {p2}?"),
], {"p1": pool("entity", "iPad Air", "Galaxy Tab S9", "Kindle Scribe", "Surface Go 4", "Pixel Tablet", "Fire HD 10"),
    "p2": None}, swap=("p1", "p2")))
SHORTS[-1].slots["p2"] = SHORTS[-1].slots["p1"]

add(S("shopping", "shop.short_delivery", "I ordered {n} {item} but only received {m}. What should I do?", [
    ("reworded", "My package had {m} {item} in it instead of the {n} I ordered. How do I get the rest?"),
    ("passive", "{n} {item} were ordered but only {m} were delivered. What's the next step?"),
    ("formality", "ordered {n} {item}, got {m}, help"),
], [
    ("entity", "I ordered {n} {item} but {m} arrived broken. What should I do?"),
], {"n": pool("number", "6", "8", "10", "12"), "m": pool("number", "2", "3", "4", "5"),
    "item": pool("entity", "chairs", "mugs", "lamps", "towels", "notebooks")}, swap=("n", "m")))

add(S("shopping", "shop.price_match", "Do you price match {store}?", [
    ("reworded", "If {store} sells it for less, will you match their price?"),
    ("formality", "u guys price match {store}?"),
    ("passive", "Are prices from {store} matched?"),
], [
    ("negation", "Why don't you price match {store}?"),
    ("entity", "Do you accept {store} gift cards?"),
], {"store": pool("entity", "Amazon", "Walmart", "Best Buy", "Target", "Costco", "IKEA")}))

add(S("shopping", "shop.giftcard_promo", "Can I use a gift card and a promo code on the same order?", [
    ("reworded", "Is it possible to combine a gift card with a discount code in one purchase?"),
    ("passive", "Can a gift card and a promo code both be applied to one order?"),
    ("formality", "gift card + promo code together, allowed?"),
], [
    ("number", "Can I use two promo codes on the same order?"),
    ("entity", "Can I use a gift card to pay for shipping?"),
]))

add(S("shopping", "shop.exchange_size", "Can I exchange these shoes from size {s1} to size {s2}?", [
    ("reworded", "I'd like to swap my size {s1} shoes for a size {s2}. Is that possible?"),
    ("passive", "Can these size {s1} shoes be exchanged for size {s2}?"),
    ("formality", "shoes too small/big, size {s1} -> {s2} exchange ok?"),
], [
    ("entity", "Can I exchange these shoes from size {s1} to size {s2} in another colour?"),
], {"s1": pool("number", "7", "8", "9", "10", "11"), "s2": None}, swap=("s1", "s2")))
SHORTS[-1].slots["s2"] = SHORTS[-1].slots["s1"]

add(S("shopping", "shop.sale_return", "What's your return policy for items bought on sale?", [
    ("reworded", "If I buy something discounted, can I still return it?"),
    ("passive", "How are returns of sale items handled?"),
    ("formality", "return policy for sale stuff?"),
], [
    ("opposite", "What's your return policy for items bought at full price?"),
    ("entity", "What's your warranty policy for items bought on sale?"),
]))

add(S("shopping", "shop.delivery_day", "Can I change the delivery date of order {order} to {day}?", [
    ("reworded", "Is it possible to have order {order} delivered on {day} instead?"),
    ("passive", "Can order {order} be rescheduled for delivery on {day}?"),
    ("formality", "order {order}, deliver on {day} instead pls?"),
], [
    ("entity", "Can I change the delivery address of order {order} for {day}?"),
], {"order": ORDERS, "day": pool("entity", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")}))

add(S("shopping", "shop.warranty", "Does the {brand} warranty cover accidental damage on my {product}?", [
    ("reworded", "If I accidentally damage my {product}, will the {brand} warranty pay for it?"),
    ("passive", "Is accidental damage to my {product} covered by the {brand} warranty?"),
    ("formality", "dropped my {brand} {product}, warranty cover that?"),
], [
    ("entity", "Does the {brand} warranty cover battery wear on my {product}?"),
    ("negation", "Why doesn't the {brand} warranty cover accidental damage on my {product}?"),
], {"brand": pool("entity", "Apple", "Samsung", "Dell", "Lenovo", "Sony", "Dyson"),
    "product": pool("entity", "laptop", "phone", "headphones", "vacuum cleaner")}))

# ---------------------------------------------------------------- devops / logs

add(S("devops", "devops.nginx_https", "How do I make nginx redirect all HTTP traffic to HTTPS?", [
    ("reworded", "What nginx config sends every plain-HTTP request over to HTTPS?"),
    ("passive", "How is HTTP traffic redirected to HTTPS in nginx?"),
    ("formality", "nginx http -> https redirect config?"),
], [
    ("direction", "How do I make nginx redirect all HTTPS traffic to HTTP?"),
    ("scope", "How do I make nginx redirect HTTP traffic to HTTPS for only one path?"),
]))

add(S("devops", "devops.k8s_mem", "How do I increase the memory limit of a Kubernetes pod?", [
    ("reworded", "What's the way to give a Kubernetes pod more memory headroom?"),
    ("passive", "How can a pod's memory limit be raised in Kubernetes?"),
    ("formality", "k8s pod needs more memory, how do i bump the limit?"),
], [
    ("opposite", "How do I decrease the memory limit of a Kubernetes pod?"),
    ("entity", "How do I increase the CPU limit of a Kubernetes pod?"),
    ("scope", "How do I increase the memory limit of every pod in a Kubernetes namespace?"),
]))

add(S("devops", "devops.no_space", "Why do I get 'No space left on device' when df shows free space?", [
    ("reworded", "df says the disk still has room, so why does Linux report 'No space left on device'?"),
    ("formality", "'no space left on device' but df shows space?? why"),
    ("reordered", "When df shows free space, why do I still get 'No space left on device'?"),
], [
    ("negation", "Why do I get 'No space left on device' when df shows no free space?"),
    ("entity", "Why do I get 'Read-only file system' when df shows free space?"),
]))

add(S("devops", "devops.docker_port", "How do I map port {p1} on the host to port {p2} in a Docker container?", [
    ("reworded", "What docker run flag publishes host port {p1} as container port {p2}?"),
    ("passive", "How is host port {p1} forwarded to port {p2} inside a Docker container?"),
    ("formality", "docker: host {p1} -> container {p2}, syntax?"),
], [
    ("entity", "How do I map port {p1} on the host to port {p2} in a Kubernetes pod?"),
], {"p1": pool("number", "8080", "3000", "5432", "8443", "9000"), "p2": pool("number", "80", "443", "5000", "8000")},
    swap=("p1", "p2")))

add(S("devops", "devops.docker_ps", "How do I list all Docker containers, including stopped ones?", [
    ("reworded", "What command shows every Docker container, even the ones that aren't running?"),
    ("passive", "How can all Docker containers be listed, stopped ones included?"),
    ("formality", "docker list containers incl. stopped?"),
], [
    ("scope", "How do I list only the running Docker containers?"),
    ("entity", "How do I remove all stopped Docker containers?"),
]))

add(S("devops", "devops.k8s_rollback", "How do I roll back a Kubernetes deployment to the previous revision?", [
    ("reworded", "What's the kubectl command to undo the latest rollout of a deployment?"),
    ("passive", "How can a Kubernetes deployment be reverted to its previous revision?"),
    ("formality", "k8s deployment rollback to last version?"),
], [
    ("number", "How do I roll back a Kubernetes deployment by three revisions?"),
    ("entity", "How do I roll back a Helm release to the previous revision?"),
]))

add(S("devops", "devops.cron", "Write a cron expression that runs a job every {n} minutes.", [
    ("reworded", "What crontab schedule fires a task once every {n} minutes?"),
    ("formality", "cron for every {n} min?"),
    ("passive", "Which cron expression makes a job be run every {n} minutes?"),
], [
    ("unit", "Write a cron expression that runs a job every {n} hours."),
    ("scope", "Write a cron expression that runs a job every {n} minutes on weekdays only."),
], {"n": pool("number", "5", "10", "15", "20", "30")}))

add(S("devops", "devops.pg_grant", "How do I give the user {u} read-only access to the {db} database in PostgreSQL?", [
    ("reworded", "In PostgreSQL, how can {u} be allowed to query the {db} database but not change it?"),
    ("passive", "How is read-only access to the {db} database granted to {u} in PostgreSQL?"),
    ("formality", "postgres: read only access for {u} on {db}?"),
], [
    ("opposite", "How do I revoke the user {u}'s read-only access to the {db} database in PostgreSQL?"),
    ("entity", "How do I give the user {u} write access to the {db} database in PostgreSQL?"),
], {"u": pool("entity", "analyst", "reporting", "grafana", "bi_reader", "metabase"),
    "db": pool("entity", "sales", "orders", "billing", "inventory", "events")}))

add(S("devops", "devops.migrate_db", "What's the safest way to migrate data from {d1} to {d2}?", [
    ("reworded", "How do I move my data from {d1} into {d2} without losing anything?"),
    ("passive", "How should data be migrated from {d1} to {d2} safely?"),
    ("formality", "{d1} -> {d2} migration, safest approach?"),
], [
    ("entity", "What's the fastest way to migrate data from {d1} to {d2}?"),
], {"d1": pool("entity", "MySQL", "PostgreSQL", "MongoDB", "SQLite", "Oracle", "SQL Server"), "d2": None},
    swap=("d1", "d2")))
SHORTS[-1].slots["d2"] = SHORTS[-1].slots["d1"]

add(S("devops", "devops.crashloop", "Why is my {svc} pod stuck in CrashLoopBackOff?", [
    ("reworded", "My {svc} pod keeps restarting in CrashLoopBackOff. What's going on?"),
    ("formality", "{svc} pod crashloopbackoff, why"),
    ("passive", "What causes a {svc} pod to be stuck in CrashLoopBackOff?"),
], [
    ("entity", "Why is my {svc} pod stuck in Pending?"),
    ("entity", "Why is my {svc} pod stuck in ImagePullBackOff?"),
], {"svc": pool("entity", "redis", "postgres", "api", "worker", "nginx", "kafka")}))

add(S("devops", "devops.ssl_expiry", "How do I check when the TLS certificate of {host} expires?", [
    ("reworded", "What's the command to see the expiry date of {host}'s SSL certificate?"),
    ("passive", "How can the expiration date of the TLS certificate on {host} be checked?"),
    ("formality", "cert expiry for {host}, how to check from the terminal?"),
], [
    ("entity", "How do I renew the TLS certificate of {host}?"),
    ("entity", "How do I check which TLS versions {host} supports?"),
], {"host": pool("entity", "example.com", "api.internal.acme.io", "shop.example.org", "mail.contoso.net")}))
