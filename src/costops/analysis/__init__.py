"""Reading the books: reports now; forecasts, chargeback, recommendations and what-if replay later."""
