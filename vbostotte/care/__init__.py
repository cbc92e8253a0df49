"""The care record between visits: session notes, goals and their steps, wellbeing check-ins and the day plan, and the summary for the citizen's caseworker."""
