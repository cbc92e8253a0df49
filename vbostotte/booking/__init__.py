"""When people meet: working hours and free slots, the appointment's life (book, answer, move, cancel, attendance), the pages' appointment lists, calendar files and feeds."""
