//! tandem-router: pure routing logic (classifier, session policy, node selection); no I/O.
