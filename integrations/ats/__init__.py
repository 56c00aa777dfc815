"""ATS providers behind one interface (`base.AtsProvider`): Greenhouse now; Lever, iCIMS and Jobvite (issue 9)
plug into the same registry, dataclasses and contract tests."""
