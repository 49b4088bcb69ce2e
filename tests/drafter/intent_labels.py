"""Hand labels for 100 real messages of ../shared/eval/real_messages.jsonl (every 5th line, the first 100).

Labelled by reading each message (issue 12), before looking at the classifier's answer. Only the ids and
labels live here; the messages stay in ../shared. Rules used: asks when it ships / to ship or hurry the
warehouse / restock → urge; where the parcel is, when it arrives, a delivery question → logistics; a
request only the warehouse or courier can grant (deliver on a given day or time, expedite beyond the
system's date, split the order) → change_request; anger with no shipping question → complaint.
"""

LABELS: dict[str, str] = {
    "ecd-000": "urge", "ecd-005": "urge", "ecd-010": "urge", "ecd-015": "urge", "ecd-020": "urge",
    "ecd-025": "urge", "ecd-030": "urge",
    "jd19-003": "logistics", "jd19-008": "logistics", "jd19-013": "logistics", "jd19-018": "urge",
    "jd19-023": "logistics", "jd19-028": "urge", "jd19-033": "urge", "jd19-038": "logistics", "jd19-043": "urge",
    "jd19-048": "urge", "jd19-053": "urge", "jd19-058": "logistics", "jd19-063": "logistics", "jd19-068": "urge",
    "jd19-073": "logistics", "jd19-078": "urge", "jd19-083": "urge", "jd19-088": "change_request",
    "jd19-093": "logistics", "jd19-098": "logistics", "jd19-103": "logistics", "jd19-108": "logistics",
    "jd19-113": "logistics", "jd19-118": "logistics", "jd19-123": "urge", "jd19-128": "logistics",
    "jd19-133": "logistics", "jd19-138": "logistics", "jd19-143": "logistics", "jd19-148": "change_request",
    "jd19-153": "logistics", "jd19-158": "urge", "jd19-163": "logistics", "jd19-168": "logistics",
    "jd19-173": "logistics", "jd19-178": "logistics", "jd19-183": "urge", "jd19-188": "urge", "jd19-193": "urge",
    "jd19-198": "urge", "jd19-203": "logistics", "jd19-208": "logistics",
    "jd19dev-001": "logistics", "jd19dev-006": "logistics",
    "jd18-001": "urge", "jd18-006": "urge", "jd18-011": "logistics", "jd18-016": "logistics",
    "jd18-021": "logistics", "jd18-026": "urge", "jd18-031": "logistics", "jd18-036": "urge",
    "jd18-041": "logistics", "jd18-046": "logistics", "jd18-051": "logistics", "jd18-056": "logistics",
    "jd18-061": "urge", "jd18-066": "logistics", "jd18-071": "logistics", "jd18-076": "logistics",
    "jd18-081": "urge", "jd18-086": "change_request", "jd18-091": "urge", "jd18-096": "logistics",
    "jd18-101": "logistics", "jd18-106": "urge", "jd18-111": "logistics", "jd18-116": "urge",
    "jd18-121": "logistics", "jd18-126": "logistics", "jd18-131": "logistics", "jd18-136": "change_request",
    "jd18-141": "logistics", "jd18-146": "urge", "jd18-151": "logistics", "jd18-156": "urge",
    "jd18-161": "change_request", "jd18-166": "urge", "jd18-171": "logistics", "jd18-176": "change_request",
    "jd18-181": "urge", "jd18-186": "change_request", "jd18-191": "logistics", "jd18-196": "logistics",
    "jd18-201": "logistics", "jd18-206": "urge", "jd18-211": "logistics", "jd18-216": "urge",
    "jd18-221": "urge", "jd18-226": "logistics", "jd18-231": "logistics", "jd18-236": "urge",
    "jd18-241": "logistics",
}
