// Placeholder: the console's front end replaces this file.
"use strict";
