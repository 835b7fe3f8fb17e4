"""chiso's test harness, apart from the product: simulators of the three source systems (an
HTTP API and the files vendors export, with their faults), the independent Python computation
of every indicator (the oracle the warehouse is checked against), and the generators of the
committed seeds and documents. A province's deployment never installs or imports it."""
