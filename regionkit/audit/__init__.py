"""The adoption ledger, agreements (MoU/PKS), the central registry and its reports."""
