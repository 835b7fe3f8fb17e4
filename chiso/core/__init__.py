"""What every stage shares: settings and paths, months and periods, the Vietnamese text codec,
formatting of numbers and dates, and the keyed hash of personal data. Imports nothing else of
chiso."""
