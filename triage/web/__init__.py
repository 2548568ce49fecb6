"""The pages people work in all day (DESIGN 9): server-rendered with the GOV.UK Design
System's components, plain forms that work without JavaScript, on the same service functions
and typed models as the API. Wiring: nothing below imports it."""
