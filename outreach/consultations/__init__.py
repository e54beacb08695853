"""Consultation requests: the public page's submissions and their rules (``requests``),
which campaign message brought each one (``attribution``: last touch within 30 days, else
direct) and the staff inbox (``inbox``). A request is never marketing consent."""
