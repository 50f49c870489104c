"""Public conformance suites for slipway's plug-in points (metadata stores, artifact stores, flavors).

Plugin authors subclass a contract class and provide its fixture; every test in it must pass.
"""

__all__: list[str] = []
