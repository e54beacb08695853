"""First-party click tracking: staff links rewritten at send time to opaque codes
(``codes``), the step's numbered links (``links``), and the clicks (``clicks``)."""
