"""Reports for channel managers: partner scorecard, campaign ROI, region and product views.

Each report is one module of database aggregates (GROUP BY queries; only the accept durations of a
partner scorecard are read row by row, for the median and p90). They share ``ReportFilter``: a
half-open time range ``[since, until)`` and lead filters (campaign, country, partner).
"""
