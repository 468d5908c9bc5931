"""The directory of responsible units (承办单位): who exists, of which kind, where, for which
categories. Every part of the product needs it (accounts bind unit handlers to a unit, work
orders are dispatched to units, pages list them), so it belongs to the kernel, not to a feature.
"""
