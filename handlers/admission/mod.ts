/**
 * Client admission: who may use a service.
 *
 * @module
 */
export { Admission, AdmissionGroup, type Admitter, compileAdmission } from "./admission.ts";
export { admissionGate, admissionListener } from "./listener.ts";
