"""Click commands only: parse options, call one function, render the result."""
