"""Write ``bench/data/paraphrases.jsonl``: pairs a semantic cache must serve and pairs it must not.

Each seed below is a cached question written for this project, with paraphrases that must hit
(synonyms, reordering, a different phrasing) and near-misses that must not (most change exactly one
number, unit, direction, negation or entity; the rest change one key content word). Two kinds of
hit are added mechanically from every seed so each seed is tested the same way: a politeness
wrapper and one keyboard typo. The output is deterministic.

    .venv/bin/python bench/make_paraphrases.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).parent / "data" / "paraphrases.jsonl"

# (domain, cached question, [paraphrases that must hit], [(kind, near-miss that must not)])
SEEDS: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    # -- support FAQ -------------------------------------------------------------------------------
    ("support", "How do I reset my password?",
     ["What's the way to reset my password?", "How can I reset my password?"],
     [("content", "How do I reset my username?"), ("negation", "Why can't I reset my password?")]),
    ("support", "How do I change the email address on my account?",
     ["How can I update the email address on my account?", "Changing my account's email address: how do I do it?"],
     [("content", "How do I change the phone number on my account?"), ("direction", "How do I remove the email address from my account?")]),
    ("support", "How long does shipping take to Canada?",
     ["How long does it take to ship to Canada?"],
     [("entity", "How long does shipping take to Mexico?"), ("content", "How much does shipping cost to Canada?")]),
    ("support", "Can I return an item after 30 days?",
     ["Is it possible to return an item after 30 days?"],
     [("number", "Can I return an item after 60 days?"), ("direction", "Can I return an item within 30 days?"),
      ("unit", "Can I return an item after 30 hours?")]),
    ("support", "How do I enable two-factor authentication?",
     ["How can I turn on two-factor authentication?", "How do I set up two-factor authentication?"],
     [("direction", "How do I disable two-factor authentication?")]),
    ("support", "Where can I download my invoices?",
     ["Where do I download my invoices?"],
     [("content", "Where can I download my receipts from last year?"), ("direction", "Where can I upload my invoices?")]),
    ("support", "Is there a mobile app for Android?",
     ["Do you have an Android mobile app?"],
     [("entity", "Is there a mobile app for iOS?"), ("negation", "Why is there no mobile app for Android?")]),
    ("support", "What are your customer support hours on weekends?",
     ["When is customer support open on weekends?"],
     [("content", "What are your customer support hours on holidays?"), ("content", "What are your office hours on weekends?")]),
    ("support", "How do I delete my account permanently?",
     ["How can I permanently delete my account?"],
     [("content", "How do I deactivate my account temporarily?"), ("negation", "How do I delete my account without losing my data?")]),
    ("support", "Why did my order arrive damaged?",
     ["My order arrived damaged, why?"],
     [("content", "Why did my order arrive late?"), ("negation", "Why did my order not arrive?")]),
    ("support", "Can I change my delivery address after placing an order?",
     ["Is it possible to change the delivery address after I placed an order?"],
     [("direction", "Can I change my delivery address before placing an order?"), ("content", "Can I change my payment method after placing an order?")]),
    ("support", "How do I add a team member to my workspace?",
     ["How can I add a team member to my workspace?", "Adding a team member to my workspace: how?"],
     [("direction", "How do I remove a team member from my workspace?"), ("content", "How do I add a guest to my workspace?")]),
    ("support", "Does the Pro plan include phone support?",
     ["Is phone support included in the Pro plan?"],
     [("entity", "Does the Basic plan include phone support?"), ("content", "Does the Pro plan include email support?")]),
    ("support", "What is the maximum file size I can upload?",
     ["What's the largest file size I can upload?", "How big can an uploaded file be at most?"],
     [("direction", "What is the minimum file size I can upload?"), ("content", "What is the maximum number of files I can upload?")]),
    ("support", "How do I export my contacts to CSV?",
     ["How can I export my contacts as a CSV file?"],
     [("direction", "How do I import my contacts from CSV?"), ("entity", "How do I export my contacts to Excel?")]),
    ("support", "Why am I not receiving notification emails?",
     ["Why don't I receive notification emails?", "I am not getting notification emails, why?"],
     [("negation", "Why am I receiving notification emails?"), ("content", "Why am I not receiving notification texts?")]),
    ("support", "Can I use the app offline?",
     ["Is it possible to use the app offline?", "Does the app work offline?"],
     [("content", "Can I use the app on two devices?"), ("negation", "Why can't I use the app online?")]),
    ("support", "How do I unsubscribe from the newsletter?",
     ["How can I unsubscribe from your newsletter?"],
     [("direction", "How do I subscribe to the newsletter?")]),
    ("support", "What happens to my data when my trial ends?",
     ["When my trial ends, what happens to my data?"],
     [("content", "What happens to my data when my subscription ends?"), ("direction", "What happens to my data when my trial starts?")]),
    ("support", "How many devices can I log in from at the same time?",
     ["From how many devices can I be logged in at the same time?"],
     [("content", "How many users can I log in from at the same time?")]),
    ("support", "Is my payment information stored securely?",
     ["Do you store my payment information securely?"],
     [("negation", "Is my payment information not stored at all?"), ("content", "Is my personal information stored securely?")]),
    ("support", "How do I track my order from Germany?",
     ["How can I track my order from Germany?"],
     [("entity", "How do I track my order from France?"), ("content", "How do I cancel my order from Germany?")]),
    ("support", "Can I get a refund if the event is cancelled?",
     ["If the event is cancelled, can I get a refund?"],
     [("content", "Can I get a refund if the event is postponed?"), ("negation", "Can I get a refund if the event is not cancelled?")]),
    ("support", "How do I reset my router to factory settings?",
     ["How can I reset my router to its factory settings?"],
     [("content", "How do I reset my modem to factory settings?"), ("content", "How do I update my router to the latest firmware?")]),
    ("support", "What is the warranty period for the X200 headphones?",
     ["How long is the warranty on the X200 headphones?"],
     [("entity", "What is the warranty period for the X300 headphones?"), ("content", "What is the return period for the X200 headphones?")]),
    ("support", "Do you ship to Australia within 5 business days?",
     ["Can you ship to Australia within 5 business days?"],
     [("number", "Do you ship to Australia within 2 business days?"), ("entity", "Do you ship to New Zealand within 5 business days?"),
      ("unit", "Do you ship to Australia within 5 business weeks?")]),
    ("support", "How do I turn on dark mode?",
     ["How can I enable dark mode?", "How do I switch on dark mode?"],
     [("direction", "How do I turn off dark mode?"), ("content", "How do I turn on high contrast mode?")]),
    ("support", "Is the store open on Sunday?",
     ["Are you open on Sunday?"],
     [("entity", "Is the store open on Saturday?"), ("negation", "Why is the store not open on Sunday?")]),
    ("support", "My package says delivered but I didn't receive it",
     ["The package is marked delivered but I never received it"],
     [("negation", "My package says delivered and I received it, but it was wrong")]),
    ("support", "How do I change the language of the interface to Spanish?",
     ["How can I switch the interface language to Spanish?"],
     [("entity", "How do I change the language of the interface to French?")]),

    # -- billing -----------------------------------------------------------------------------------
    ("billing", "What is the price of plan A?",
     ["How much does plan A cost?", "Plan A: what's the price?"],
     [("entity", "What is the price of plan B?"), ("content", "What is the storage limit of plan A?")]),
    ("billing", "How much does the Team plan cost per month?",
     ["What's the monthly price of the Team plan?", "What does the Team plan cost each month?"],
     [("unit", "How much does the Team plan cost per year?"), ("entity", "How much does the Enterprise plan cost per month?")]),
    ("billing", "Why was I charged twice this month?",
     ["Why did I get charged twice this month?", "I was charged two times this month, why?"],
     [("content", "Why was I charged twice last month?"), ("negation", "Why was I not charged this month?")]),
    ("billing", "How do I upgrade my subscription to the annual plan?",
     ["How can I upgrade to the annual plan?"],
     [("direction", "How do I downgrade my subscription to the annual plan?"), ("content", "How do I upgrade my subscription to the monthly plan?")]),
    ("billing", "Can I get a refund for the unused part of my subscription?",
     ["Is a refund possible for the unused part of my subscription?"],
     [("negation", "Why can't I get a refund for the used part of my subscription?")]),
    ("billing", "Do you offer a discount for nonprofits?",
     ["Is there a nonprofit discount?", "Do nonprofits get a discount?"],
     [("content", "Do you offer a discount for students?"), ("content", "Do you offer a free trial for nonprofits?")]),
    ("billing", "How do I update the credit card on file?",
     ["How can I change the credit card on file?"],
     [("direction", "How do I remove the credit card on file?"), ("content", "How do I update the billing address on file?")]),
    ("billing", "Is VAT included in the prices shown?",
     ["Are the prices shown including VAT?"],
     [("negation", "Why is VAT not included in the prices shown?"), ("content", "Is shipping included in the prices shown?")]),
    ("billing", "What happens if my payment fails?",
     ["If my payment fails, what happens?"],
     [("content", "What happens if my payment is late?"), ("negation", "What happens if my payment doesn't go through twice?")]),
    ("billing", "Can I pay by bank transfer?",
     ["Is paying by bank transfer possible?", "Do you accept bank transfers?"],
     [("entity", "Can I pay by PayPal?"), ("content", "Can I pay by check?")]),
    ("billing", "How much is the overage fee per 1,000 API calls?",
     ["What's the overage fee for each 1,000 API calls?"],
     [("number", "How much is the overage fee per 10,000 API calls?"), ("content", "How much is the overage fee per 1,000 SMS messages?")]),
    ("billing", "Is there a cancellation fee if I cancel within 14 days?",
     ["If I cancel within 14 days, is there a cancellation fee?"],
     [("number", "Is there a cancellation fee if I cancel within 30 days?"), ("direction", "Is there a cancellation fee if I cancel after 14 days?"),
      ("negation", "Why is there no cancellation fee if I cancel within 14 days?")]),
    ("billing", "How do I get an invoice with my company's tax ID?",
     ["How can I get an invoice that shows my company's tax ID?"],
     [("content", "How do I get a receipt with my company's tax ID?")]),
    ("billing", "What is the price for 50 seats on the Business plan?",
     ["How much do 50 seats on the Business plan cost?"],
     [("number", "What is the price for 500 seats on the Business plan?"), ("entity", "What is the price for 50 seats on the Starter plan?")]),
    ("billing", "Why did my bill increase this month?",
     ["Why is my bill higher this month?", "How come my bill went up this month?"],
     [("direction", "Why did my bill decrease this month?"), ("content", "Why did my usage increase this month?")]),
    ("billing", "Can I switch from monthly to yearly billing?",
     ["Is it possible to switch from monthly billing to yearly?"],
     [("direction", "Can I switch from yearly to monthly billing?")]),
    ("billing", "How much does it cost to add 100 GB of storage?",
     ["What's the cost of adding 100 GB of storage?"],
     [("number", "How much does it cost to add 200 GB of storage?"), ("unit", "How much does it cost to add 100 TB of storage?")]),
    ("billing", "When will I be charged for the renewal?",
     ["When does the renewal charge happen?"],
     [("content", "When will I be refunded for the renewal?")]),
    ("billing", "Do you charge in euros or dollars?",
     ["Are charges in dollars or euros?"],
     [("entity", "Do you charge in pounds or dollars?")]),
    ("billing", "Is the price of $29 per user or per team?",
     ["Is the $29 price per team or per user?"],
     [("number", "Is the price of $49 per user or per team?"), ("unit", "Is the price of 29 euros per user or per team?")]),
    ("billing", "Why was my card declined for a $500 payment?",
     ["My card was declined for a $500 payment, why?"],
     [("number", "Why was my card declined for a $50 payment?"), ("negation", "Why was my card not declined for a $500 payment?")]),
    ("billing", "Can I pause my subscription for 3 months?",
     ["Is pausing my subscription for 3 months possible?"],
     [("number", "Can I pause my subscription for 6 months?"), ("unit", "Can I pause my subscription for 3 weeks?"),
      ("content", "Can I extend my subscription for 3 months?")]),
    ("billing", "How do I apply a promo code at checkout?",
     ["How can I use a promo code when I check out?"],
     [("direction", "How do I remove a promo code at checkout?")]),
    ("billing", "Is the annual plan cheaper than paying monthly?",
     ["Is paying annually cheaper than the monthly plan?"],
     [("direction", "Is the annual plan more expensive than paying monthly?")]),

    # -- code ----------------------------------------------------------------------------------------
    ("code", "How do I reverse a list in Python?",
     ["How can I reverse a list in Python?", "In Python, how do I reverse a list?"],
     [("entity", "How do I reverse a list in JavaScript?"), ("content", "How do I sort a list in Python?")]),
    ("code", "How do I read a CSV file with pandas?",
     ["How can I read a CSV file using pandas?", "Reading a CSV file with pandas: how?"],
     [("direction", "How do I write a CSV file with pandas?"), ("entity", "How do I read a JSON file with pandas?")]),
    ("code", "What is the difference between a list and a tuple in Python?",
     ["How does a list differ from a tuple in Python?", "What's the difference between a tuple and a list in Python?"],
     [("entity", "What is the difference between a list and a set in Python?")]),
    ("code", "How do I convert a string to an integer in JavaScript?",
     ["How can I convert a string into an integer in JavaScript?"],
     [("direction", "How do I convert an integer to a string in JavaScript?"), ("entity", "How do I convert a string to an integer in Java?")]),
    ("code", "How do I undo the last commit in git?",
     ["How can I undo my last git commit?", "In git, how do I undo the last commit?"],
     [("content", "How do I undo the last merge in git?"), ("direction", "How do I undo the first commit in git?")]),
    ("code", "Why does my React component render twice?",
     ["Why is my React component rendering twice?"],
     [("negation", "Why does my React component not render?"), ("entity", "Why does my Vue component render twice?")]),
    ("code", "How do I remove duplicates from an array in JavaScript?",
     ["How can I remove duplicate values from a JavaScript array?"],
     [("direction", "How do I find duplicates in an array in JavaScript?"), ("entity", "How do I remove duplicates from an array in Ruby?")]),
    ("code", "How do I create a virtual environment with Python 3.11?",
     ["How can I make a virtual environment with Python 3.11?"],
     [("number", "How do I create a virtual environment with Python 3.8?"), ("direction", "How do I delete a virtual environment with Python 3.11?")]),
    ("code", "How do I set a timeout of 30 seconds on a requests call?",
     ["How can I give a requests call a 30 second timeout?"],
     [("number", "How do I set a timeout of 5 seconds on a requests call?"), ("unit", "How do I set a timeout of 30 milliseconds on a requests call?")]),
    ("code", "How do I sort a dictionary by value in Python?",
     ["How can I sort a Python dictionary by its values?"],
     [("entity", "How do I sort a dictionary by key in Python?"), ("direction", "How do I sort a dictionary by value in descending order in Python?")]),
    ("code", "What does the error 'list index out of range' mean?",
     ["What is the meaning of the error 'list index out of range'?"],
     [("content", "What does the error 'string index out of range' mean?")]),
    ("code", "How do I join two tables in SQL?",
     ["How can I join two tables with SQL?"],
     [("number", "How do I join three tables in SQL?"), ("content", "How do I union two tables in SQL?")]),
    ("code", "How do I make an HTTP GET request in Go?",
     ["How can I send an HTTP GET request in Go?"],
     [("entity", "How do I make an HTTP POST request in Go?"), ("entity", "How do I make an HTTP GET request in Rust?")]),
    ("code", "How do I check if a file exists in Bash?",
     ["How can I check whether a file exists in Bash?", "In Bash, how do I test if a file exists?"],
     [("negation", "How do I check if a file does not exist in Bash?"), ("content", "How do I check if a directory exists in Bash?")]),
    ("code", "How do I increase the heap size of the JVM?",
     ["How can I raise the JVM heap size?"],
     [("direction", "How do I decrease the heap size of the JVM?"), ("content", "How do I increase the stack size of the JVM?")]),
    ("code", "How do I rename a branch in git?",
     ["How can I rename a git branch?"],
     [("direction", "How do I delete a branch in git?")]),
    ("code", "Why is my Docker container exiting immediately?",
     ["Why does my Docker container exit right away?"],
     [("negation", "Why is my Docker container not exiting?")]),
    ("code", "How do I run only one test with pytest?",
     ["How can I run a single test using pytest?"],
     [("negation", "How do I skip one test with pytest?"), ("entity", "How do I run only one test with Jest?")]),
    ("code", "How do I format a date as YYYY-MM-DD in JavaScript?",
     ["How can I format a JavaScript date as YYYY-MM-DD?"],
     [("entity", "How do I format a date as DD/MM/YYYY in JavaScript?"), ("direction", "How do I parse a date as YYYY-MM-DD in JavaScript?")]),
    ("code", "What is the time complexity of binary search?",
     ["What's the time complexity of a binary search?"],
     [("content", "What is the space complexity of binary search?"), ("content", "What is the time complexity of linear search?")]),
    ("code", "How do I add an index to a column in PostgreSQL?",
     ["How can I add an index on a column in PostgreSQL?"],
     [("direction", "How do I drop an index on a column in PostgreSQL?"), ("entity", "How do I add an index to a column in MySQL?")]),
    ("code", "How do I limit a query to 10 rows in SQL?",
     ["How can I limit a SQL query to 10 rows?"],
     [("number", "How do I limit a query to 100 rows in SQL?")]),
    ("code", "How do I install version 18 of Node.js?",
     ["How can I install Node.js version 18?"],
     [("number", "How do I install version 20 of Node.js?"), ("direction", "How do I uninstall version 18 of Node.js?")]),
    ("code", "How do I read environment variables in Python?",
     ["How can I read environment variables from Python?"],
     [("direction", "How do I set environment variables in Python?")]),
    ("code", "Why is my for loop in Python so slow?",
     ["Why does my Python for loop run so slowly?"],
     [("content", "Why is my while loop in Python so slow?")]),
    ("code", "How do I merge two dictionaries in Python?",
     ["How can I merge two Python dictionaries?", "Merging two dictionaries in Python: how?"],
     [("number", "How do I merge three dictionaries in Python?"), ("entity", "How do I merge two lists in Python?")]),
    ("code", "How do I center a div horizontally with CSS?",
     ["How can I horizontally center a div using CSS?"],
     [("direction", "How do I center a div vertically with CSS?")]),
    ("code", "What port does Redis listen on by default?",
     ["By default, which port does Redis listen on?"],
     [("entity", "What port does PostgreSQL listen on by default?")]),

    # -- data questions ----------------------------------------------------------------------------------
    ("data", "What were total sales in March 2024?",
     ["What was the total of sales in March 2024?", "Total sales for March 2024?"],
     [("entity", "What were total sales in April 2024?"), ("number", "What were total sales in March 2023?"),
      ("content", "What were total returns in March 2024?")]),
    ("data", "Which product had the highest revenue last quarter?",
     ["Last quarter, which product had the highest revenue?", "Which product brought in the most revenue last quarter?"],
     [("direction", "Which product had the lowest revenue last quarter?"), ("content", "Which product had the highest revenue last year?")]),
    ("data", "How many new customers signed up in Europe last week?",
     ["How many new customers in Europe signed up last week?"],
     [("entity", "How many new customers signed up in Asia last week?"), ("unit", "How many new customers signed up in Europe last month?")]),
    ("data", "Show me orders above $1,000 from the last 7 days",
     ["Show the orders over $1,000 from the last 7 days"],
     [("direction", "Show me orders below $1,000 from the last 7 days"), ("number", "Show me orders above $10,000 from the last 7 days"),
      ("number", "Show me orders above $1,000 from the last 30 days")]),
    ("data", "What is the average order value in Germany?",
     ["What's the average value of an order in Germany?"],
     [("entity", "What is the average order value in Spain?"), ("content", "What is the median order value in Germany?")]),
    ("data", "Did churn increase after the price change?",
     ["Has churn gone up after the price change?", "After the price change, did churn increase?"],
     [("direction", "Did churn decrease after the price change?"), ("direction", "Did churn increase before the price change?")]),
    ("data", "How many support tickets were opened in Q2?",
     ["How many support tickets did we open in Q2?"],
     [("entity", "How many support tickets were opened in Q3?"), ("content", "How many support tickets were closed in Q2?")]),
    ("data", "What percentage of users are on mobile?",
     ["What share of users use mobile?", "What percent of our users are on mobile?"],
     [("entity", "What percentage of users are on desktop?")]),
    ("data", "List customers who have not ordered in 90 days",
     ["List the customers who haven't placed an order in 90 days"],
     [("negation", "List customers who have ordered in 90 days"), ("number", "List customers who have not ordered in 60 days")]),
    ("data", "What is our conversion rate for the spring campaign?",
     ["What's the conversion rate of the spring campaign?"],
     [("entity", "What is our conversion rate for the summer campaign?"), ("content", "What is our bounce rate for the spring campaign?")]),
    ("data", "Which region had the biggest drop in revenue?",
     ["Which region's revenue dropped the most?"],
     [("direction", "Which region had the biggest growth in revenue?"), ("content", "Which region had the biggest drop in users?")]),
    ("data", "How many orders were shipped late in January?",
     ["In January, how many orders shipped late?"],
     [("entity", "How many orders were shipped late in February?"), ("negation", "How many orders were not shipped in January?")]),
    ("data", "What is the total revenue from enterprise customers this year?",
     ["How much revenue did enterprise customers bring in this year?"],
     [("content", "What is the total revenue from small business customers this year?"), ("content", "What is the total revenue from enterprise customers last year?")]),
    ("data", "Show me the top 10 products by units sold",
     ["Show the 10 best-selling products by units sold"],
     [("number", "Show me the top 5 products by units sold"), ("direction", "Show me the bottom 10 products by units sold"),
      ("content", "Show me the top 10 products by revenue")]),
    ("data", "What was the average response time of the API in ms yesterday?",
     ["Yesterday, what was the API's average response time in ms?"],
     [("content", "What was the p99 response time of the API in ms yesterday?")]),
    ("data", "How many users logged in more than 5 times this week?",
     ["How many users have logged in over 5 times this week?"],
     [("number", "How many users logged in more than 50 times this week?"), ("direction", "How many users logged in fewer than 5 times this week?")]),
    ("data", "What is the year-over-year growth of subscriptions in the US?",
     ["What's the year over year subscription growth in the US?"],
     [("entity", "What is the year-over-year growth of subscriptions in the UK?"), ("content", "What is the month-over-month growth of subscriptions in the US?")]),
    ("data", "Compare revenue in 2022 and 2023",
     ["Compare the revenue of 2022 with 2023"],
     [("number", "Compare revenue in 2021 and 2023")]),
    ("data", "How many items are below the reorder threshold in warehouse 3?",
     ["In warehouse 3, how many items are under the reorder threshold?"],
     [("number", "How many items are below the reorder threshold in warehouse 4?"), ("direction", "How many items are above the reorder threshold in warehouse 3?")]),
    ("data", "What was the temperature above 30 degrees Celsius in July?",
     ["In July, when was the temperature above 30 degrees Celsius?"],
     [("unit", "What was the temperature above 30 degrees Fahrenheit in July?"), ("number", "What was the temperature above 35 degrees Celsius in July?")]),
    ("data", "Which sales rep closed the most deals in May?",
     ["In May, which sales rep closed the most deals?"],
     [("direction", "Which sales rep closed the fewest deals in May?"), ("content", "Which sales rep lost the most deals in May?")]),
    ("data", "What is the average delivery time for orders over 2 kg?",
     ["For orders over 2 kg, what's the average delivery time?"],
     [("unit", "What is the average delivery time for orders over 2 lb?"), ("direction", "What is the average delivery time for orders under 2 kg?")]),
    ("data", "How much did marketing spend increase in 2024?",
     ["By how much did marketing spend go up in 2024?"],
     [("direction", "How much did marketing spend decrease in 2024?"), ("content", "How much did engineering spend increase in 2024?")]),
    ("data", "Count the orders placed on weekends in the last 3 months",
     ["How many orders were placed on weekends in the last 3 months?"],
     [("unit", "Count the orders placed on weekends in the last 3 weeks"), ("content", "Count the orders placed on holidays in the last 3 months")]),
    ("data", "What is the retention rate after 30 days for the iOS app?",
     ["For the iOS app, what's the 30-day retention rate?"],
     [("entity", "What is the retention rate after 30 days for the Android app?"), ("number", "What is the retention rate after 7 days for the iOS app?")]),

    # -- HR, travel and other assistants ------------------------------------------------------------
    ("hr", "How many vacation days do new employees get?",
     ["How many days of vacation does a new employee get?"],
     [("content", "How many sick days do new employees get?"), ("content", "How many vacation days do part-time employees get?")]),
    ("hr", "Can I work remotely from another country for 2 weeks?",
     ["Is it allowed to work remotely from another country for 2 weeks?"],
     [("number", "Can I work remotely from another country for 6 weeks?"), ("unit", "Can I work remotely from another country for 2 months?")]),
    ("hr", "When is the deadline to submit expense reports?",
     ["What's the deadline for submitting expense reports?"],
     [("content", "When is the deadline to submit timesheets?")]),
    ("hr", "Is parental leave paid at 100% of salary?",
     ["Is parental leave paid at full salary, 100%?"],
     [("number", "Is parental leave paid at 80% of salary?"), ("content", "Is sick leave paid at 100% of salary?")]),
    ("travel", "What is the baggage allowance on flights to Tokyo?",
     ["How much baggage can I bring on flights to Tokyo?"],
     [("entity", "What is the baggage allowance on flights to Seoul?"), ("content", "What is the pet policy on flights to Tokyo?")]),
    ("travel", "Can I cancel my hotel booking 24 hours before check-in?",
     ["Is it possible to cancel my hotel booking 24 hours before check-in?"],
     [("number", "Can I cancel my hotel booking 48 hours before check-in?"), ("direction", "Can I cancel my hotel booking 24 hours after check-in?")]),
    ("travel", "Do I need a visa to visit Japan as a US citizen?",
     ["As a US citizen, do I need a visa to visit Japan?"],
     [("entity", "Do I need a visa to visit China as a US citizen?"), ("entity", "Do I need a visa to visit Japan as a Canadian citizen?")]),
    ("travel", "Is breakfast included in the room rate?",
     ["Does the room rate include breakfast?"],
     [("negation", "Why is breakfast not included in the room rate?"), ("content", "Is parking included in the room rate?")]),
    ("health", "What is the recommended dose of ibuprofen for adults?",
     ["For adults, what's the recommended ibuprofen dose?"],
     [("content", "What is the recommended dose of ibuprofen for children?"), ("direction", "What is the maximum dose of ibuprofen for adults?")]),
    ("health", "Can I take 500 mg of paracetamol every 4 hours?",
     ["Is it ok to take 500 mg of paracetamol every 4 hours?"],
     [("number", "Can I take 1000 mg of paracetamol every 4 hours?"), ("unit", "Can I take 500 g of paracetamol every 4 hours?"),
      ("number", "Can I take 500 mg of paracetamol every 2 hours?")]),
    ("shop", "Do you have these shoes in size 42?",
     ["Are these shoes available in size 42?"],
     [("number", "Do you have these shoes in size 43?"), ("content", "Do you have these shoes in black?")]),
    ("shop", "Is the blue jacket waterproof?",
     ["Is the jacket in blue waterproof?"],
     [("entity", "Is the red jacket waterproof?"), ("negation", "Why is the blue jacket not waterproof?")]),
    ("shop", "Will the price of the laptop go down on Black Friday?",
     ["Is the laptop's price going to drop on Black Friday?"],
     [("direction", "Will the price of the laptop go up on Black Friday?"), ("entity", "Will the price of the laptop go down on Cyber Monday?")]),
    ("shop", "Does the TV support HDMI 2.1?",
     ["Is HDMI 2.1 supported by the TV?"],
     [("number", "Does the TV support HDMI 2.0?")]),
    ("shop", "Is the 65-inch model heavier than the 55-inch model?",
     ["Does the 65-inch model weigh more than the 55-inch one?"],
     [("direction", "Is the 65-inch model lighter than the 55-inch model?"), ("number", "Is the 75-inch model heavier than the 55-inch model?")]),
    ("support", "How do I connect my account to Slack?",
     ["How can I connect my account with Slack?", "How do I link my account to Slack?"],
     [("entity", "How do I connect my account to Microsoft Teams?"), ("direction", "How do I disconnect my account from Slack?")]),
    ("support", "What is the rate limit for the API per minute?",
     ["What's the API's rate limit per minute?"],
     [("unit", "What is the rate limit for the API per second?"), ("unit", "What is the rate limit for the API per hour?")]),
    ("code", "How do I make the font bigger in VS Code?",
     ["How can I increase the font size in VS Code?"],
     [("direction", "How do I make the font smaller in VS Code?"), ("entity", "How do I make the font bigger in IntelliJ?")]),
    ("data", "What share of revenue comes from customers in France?",
     ["What portion of revenue comes from French customers?"],
     [("entity", "What share of revenue comes from customers in Italy?")]),
    ("billing", "Does the free plan allow more than 3 projects?",
     ["Can I have more than 3 projects on the free plan?"],
     [("number", "Does the free plan allow more than 5 projects?"), ("direction", "Does the free plan allow fewer than 3 projects?"),
      ("entity", "Does the paid plan allow more than 3 projects?")]),
]

# More near-misses, worded like the paraphrases rather than the cached question.
EXTRA_MISSES: dict[str, list[tuple[str, str]]] = {
    "How do I reset my password?": [("content", "How can I recover my account?")],
    "What is the price of plan A?": [("entity", "How much does plan C cost?")],
    "How much does the Team plan cost per month?": [("content", "How much does the Team plan cost per seat?")],
    "How do I reverse a list in Python?": [("entity", "How can I reverse a string in Python?")],
    "How do I read a CSV file with pandas?": [("entity", "How can I read a CSV file using polars?")],
    "What were total sales in March 2024?": [("content", "What were total sales in March 2024 in Canada?")],
    "Which product had the highest revenue last quarter?": [("content", "Which product had the highest margin last quarter?")],
    "How do I enable two-factor authentication?": [("content", "How can I turn on single sign-on?")],
    "Why was I charged twice this month?": [("number", "Why was I charged three times this month?")],
    "Did churn increase after the price change?": [("content", "Did signups increase after the price change?")],
    "How do I undo the last commit in git?": [("direction", "How can I redo the last commit in git?")],
    "Can I use the app offline?": [("content", "Does the app work without an account?")],
    "How do I turn on dark mode?": [("content", "How can I enable notifications?")],
    "Is there a mobile app for Android?": [("content", "Is there a desktop app for Android?")],
    "How do I connect my account to Slack?": [("entity", "How can I link my account to GitHub?")],
    "What is the maximum file size I can upload?": [("content", "What's the largest file size I can email?")],
    "Why did my bill increase this month?": [("direction", "How come my bill went down this month?")],
    "Do you offer a discount for nonprofits?": [("content", "Is there a nonprofit grant?")],
    "How do I merge two dictionaries in Python?": [("content", "How can I compare two Python dictionaries?")],
    "What percentage of users are on mobile?": [("content", "What share of revenue is on mobile?")],
    "How do I check if a file exists in Bash?": [("entity", "How can I check whether a file exists in PowerShell?")],
    "How do I add a team member to my workspace?": [("content", "How can I add a team member to my project?")],
    "Can I pay by bank transfer?": [("content", "Do you accept crypto?")],
    "What is the average order value in Germany?": [("direction", "What's the highest value of an order in Germany?")],
    "Is the store open on Sunday?": [("content", "Are you open on Sunday evening after 8?")],
    "How do I export my contacts to CSV?": [("content", "How can I export my calendar as a CSV file?")],
    "How many vacation days do new employees get?": [("content", "How many vacation days do managers get?")],
    "What is the baggage allowance on flights to Tokyo?": [("content", "How much baggage can I bring on trains to Tokyo?")],
    "How do I make the font bigger in VS Code?": [("content", "How can I increase the tab size in VS Code?")],
    "How do I unsubscribe from the newsletter?": [("content", "How can I unsubscribe from SMS alerts?")],
}

POLITE = [
    ("Hi! ", ""), ("Hello, ", " Thanks!"), ("", " Thank you."), ("Hey there, ", ""), ("Quick question: ", ""),
    ("", " Thanks in advance!"), ("Hi team, ", " Cheers"), ("Good morning! ", ""),
]
KEYS = "qwertyuiopasdfghjklzxcvbnm"


def polite(text: str, rng: random.Random) -> str:
    prefix, suffix = rng.choice(POLITE)
    body = text[0].lower() + text[1:] if prefix and not text[:2].isupper() and not _proper(text.split()[0]) else text
    return f"{prefix}{body}{suffix}"


def _proper(word: str) -> bool:
    return word in {"I", "In", "For"} or bool(re.match(r"[A-Z][a-z]+[A-Z]", word))


def typo(text: str, rng: random.Random) -> str:
    """One keyboard slip (swap, drop, double or replace a letter) in a longer lower-case word."""
    words = text.split(" ")
    tail = ""
    if words[-1][-1] in "?.!":
        words[-1], tail = words[-1][:-1], words[-1][-1]
    candidates = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha() and w.islower()]
    if not candidates:
        candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w.islower()]
    i = rng.choice(candidates)
    w = original = words[i]
    j = rng.randrange(1, len(w) - 2)
    op = rng.choice(["swap", "drop", "double", "replace"])
    if op == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif op == "drop":
        w = w[:j] + w[j + 1 :]
    elif op == "double":
        w = w[:j] + w[j] + w[j:]
    else:
        w = w[:j] + rng.choice(KEYS.replace(w[j], "")) + w[j + 1 :]
    if w == original:  # swapping or doubling can leave the word as it was
        return typo(" ".join(words) + tail, rng)
    words[i] = w
    return " ".join(words) + tail


def number_changes(text: str) -> list[tuple[str, str]]:
    """Each number in the question changed to a nearby different one: the commonest false hit."""
    out = []
    for m in re.finditer(r"\d+(?:[.,]\d+)*", text):
        digits = m.group()
        if re.fullmatch(r"(19|20)\d\d", digits):
            other = str(int(digits) + 1)
        elif "." in digits:
            head, _, tail = digits.rpartition(".")
            other = f"{head}.{int(tail) + 1}"
        else:
            n = int(digits.replace(",", ""))
            other = f"{n * 2:,}" if "," in digits else str(n * 2 if n < 10 else n + n // 2)
        out.append(("number", text[: m.start()] + other + text[m.end() :]))
    return out


def main() -> None:
    rng = random.Random(4)
    rows = []
    for n, (domain, cached, paraphrases, misses) in enumerate(SEEDS):
        hits = [("paraphrase", p) for p in paraphrases]
        hits.append(("politeness", polite(cached, rng)))
        hits.append(("typo", typo(cached, rng)))
        for kind, query in hits:
            rows.append({"seed": n, "domain": domain, "cached": cached, "query": query, "label": "hit", "kind": kind})
        misses = [*misses, *EXTRA_MISSES.get(cached, ()), *number_changes(cached)]
        for kind, query in misses:
            rows.append({"seed": n, "domain": domain, "cached": cached, "query": query, "label": "miss", "kind": kind})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    hits_n = sum(r["label"] == "hit" for r in rows)
    one_change = sum(r["label"] == "miss" and r["kind"] in ("number", "unit", "direction", "negation", "entity") for r in rows)
    print(f"{len(SEEDS)} seeds: {hits_n} hits, {len(rows) - hits_n} near-misses ({one_change} change one number, unit, "
          f"direction, negation or entity) -> {OUT}")


if __name__ == "__main__":
    main()
